import { Command } from 'commander';
import type { DoctorReport } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { ExitCode, paint, printResult, type Style } from '../../output.js';
import { displayed } from '../../render/text.js';

const MARK: Record<string, [string, Style]> = { green: ['✔', 'green'], yellow: ['⚠', 'yellow'], red: ['✖', 'red'] };

/** The exit code of a doctor report: 1 when a check is red (or yellow with --strict), else 0. */
export function doctorExitCode(report: Pick<DoctorReport, 'checks'>, strict: boolean): number {
  const red = report.checks.some((c) => c.status === 'red');
  const yellow = report.checks.some((c) => c.status === 'yellow');
  return red || (strict && yellow) ? ExitCode.failure : ExitCode.ok;
}

/** One line per check (`✔ id  message`), its remediation under it, and a verdict line. */
export function renderDoctor(report: DoctorReport, options: { strict: boolean; color: boolean }): string {
  const width = Math.max(24, ...report.checks.map((c) => c.id.length + 2));
  const lines: string[] = [];
  for (const c of report.checks) {
    const [mark, style] = MARK[c.status] ?? ['?', 'dim'];
    lines.push(`${paint(options.color, style, mark)} ${displayed(c.id).padEnd(width)} ${displayed(c.message)}`);
    if (c.remediation !== null && c.status !== 'green') lines.push(`  ${' '.repeat(width)} ${paint(options.color, 'dim', `→ ${displayed(c.remediation)}`)}`);
  }
  const red = report.checks.filter((c) => c.status === 'red').length;
  const yellow = report.checks.filter((c) => c.status === 'yellow').length;
  const code = doctorExitCode(report, options.strict);
  if (red === 0 && yellow === 0) lines.push(paint(options.color, 'green', `all ${report.checks.length} checks green`));
  else {
    const verdict = `${red} red, ${yellow} yellow — exit ${code}`;
    lines.push(red === 0 && !options.strict ? `${verdict} (--strict fails on yellow)` : options.strict && red === 0 ? `${verdict} (--strict)` : verdict);
  }
  return lines.join('\n');
}

/** `mosaic gateway doctor [--strict]` — the gateway's own health checks, for people and for CI. */
export function doctorCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('doctor')
    .description("check a running gateway: storage, CA, certificates, CRL, audit spool, peers, Redis")
    .option('--strict', 'fail (exit 1) on yellow checks too')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway doctor
  mosaic gateway doctor --strict --json | jq '.checks[] | select(.status != "green")'

Checks have stable ids (storage.reachable, crl.fresh, audit.spool, peers.reachable,
redis.reachable, …). --json prints the admin API's report as it is.
Exit codes: 0 no check red · 1 a check is red (with --strict: red or yellow), or the gateway failed · 4 admin authentication`,
    )
    .action((flags: { strict?: boolean }, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const strict = flags.strict === true;
        const report = await adminClient(g, version).doctor();
        printResult(out, report, () => renderDoctor(report, { strict, color: out.color }));
        return doctorExitCode(report, strict);
      }),
    );
}
