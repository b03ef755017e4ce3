import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import { renderVerify } from './render.js';

/** `mosaic federation audit verify` — walk every spool's hash chain; exit 1 at a break. */
export function auditVerifyCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('verify')
    .description("walk the audit trail's hash chains (archived rows included); exit 1 when one is broken")
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation audit verify
  mosaic federation audit verify --json | jq '.spools[] | select(.firstBreak)'

A break names the spool, the row where it shows and why: "missing" (a row before it was
deleted, or rewritten together with its hash) or "edited" (its content was changed).

Exit codes: 0 every chain intact · 1 a chain is broken (or the gateway failed) · 4 admin authentication`,
    )
    .action((_flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const report = await adminClient(g, version).auditVerify();
        printResult(out, report, () => renderVerify(report, { now: Date.now(), color: out.color }));
        return report.ok ? ExitCode.ok : ExitCode.failure;
      }),
    );
}
