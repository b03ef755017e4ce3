/**
 * `mosaic demo [--no-tui]` (root: `pnpm demo`) — what a newcomer runs first: two embedded
 * gateways in this process, linked and queried (scenario.ts), the results printed, then the
 * TUI on home when this is a terminal. Progress on stderr (a line per step, a spinner on a
 * terminal), results on stdout; `--json` prints one document. Ctrl-C at any point stops both
 * gateways and removes the temp dir (exit 130); a failing step says which and why (exit 1),
 * after the same cleanup.
 */
import { Command } from 'commander';
import { outputOptions, type GlobalOptions } from '../../context.js';
import { nodeFetch } from '../../http.js';
import { colorWanted, ExitCode, paint } from '../../output.js';
import { FederationCliError } from '../federation/errors.js';
import { renderResults, resultJson } from './render.js';
import { runScenario, type DemoResult } from './scenario.js';
import { DemoSession } from './session.js';
import { DemoCancelled, DemoStepFailed, formatDuration, Steps } from './steps.js';

export interface DemoFlags {
  tui?: boolean;
}

const GENERIC_HINT = 'the demo needs a writable temp dir and free loopback ports; run `mosaic demo --no-tui -v` to see the gateways\' logs';

/** A failed step as the CLI's one error line and hint, exit 1 whatever the cause's status. */
function stepError(err: DemoStepFailed): FederationCliError {
  const cause = err.cause as { code?: unknown; remediation?: unknown } | undefined;
  const code = typeof cause?.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(cause.code) ? cause.code : 'DEMO_STEP_FAILED';
  const step = err.step.charAt(0).toLowerCase() + err.step.slice(1);
  return new FederationCliError(code, `mosaic demo stopped while ${step}: ${err.reason}`, {
    remediation: typeof cause?.remediation === 'string' ? cause.remediation : GENERIC_HINT,
    exitCode: ExitCode.failure,
    cause,
  });
}

/** Run the demo; resolves with the exit code. `scenario`: the story to run (tests pass one that fails). */
export async function runDemo(g: GlobalOptions, flags: DemoFlags, version: string, scenario: typeof runScenario = runScenario): Promise<number> {
  const started = performance.now();
  const out = outputOptions(g);
  const errColor = colorWanted(g.color, out.json, process.stderr);
  const wantTui = flags.tui !== false && !out.json && process.stdout.isTTY === true && process.stdin.isTTY === true;
  const abort = new AbortController();
  const steps = new Steps({ color: errColor, spinner: process.stderr.isTTY === true && !out.json && !out.quiet, quiet: out.quiet, signal: abort.signal });
  const session = new DemoSession({ version, fetch: nodeFetch, ...(out.verbose ? { logLevel: 'warn' } : {}) });

  let inTui = false;
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      abort.abort();
      if (!inTui) steps.line(`\n${paint(errColor, 'yellow', 'Interrupted')}: stopping both gateways and removing ${session.root}…`);
      return;
    }
    // The only exit outside main(): a person asked twice. The dir goes; the process with it.
    session.removeNow();
    process.stderr.write('mosaic: interrupted again — stopped at once\n');
    process.exit(ExitCode.cancelled);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Whatever ends the process before the cleanup below (a closed stdout pipe exits at once,
  // see bin.ts): the temp dir goes with it. The gateways live in this process and go anyway.
  const onExit = () => session.removeNow();
  process.on('exit', onExit);
  // `mosaic demo 2>&1 | head`: a closed stderr ends the step lines, not the run and its cleanup.
  const onStderrError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stderr.on('error', onStderrError);

  steps.line(`${paint(errColor, 'cyan', '◆')} ${paint(errColor, 'bold', 'mosaic demo')} — two gateways in this process · temp dir ${session.root} (removed at exit)`);
  let code: number = ExitCode.ok;
  let failure: Error | undefined;
  let result: DemoResult | undefined;
  try {
    result = await scenario(session, steps);
    // --quiet drops the step lines, not the results: a demo that prints nothing shows nothing.
    if (!out.json) process.stdout.write(`${out.quiet ? '' : '\n'}${renderResults(result, { now: Date.now(), color: out.color })}`);
    if (wantTui && !abort.signal.aborted) {
      const key = (k: string) => paint(errColor, 'bold', k);
      steps.line(`Ready in ${formatDuration(performance.now() - started)} — opening the TUI on home (${key('g')} switch to work · ${key('3')} audit tail · ${key('q')} quit)`);
      const { runTui } = await import('@mosaic/tui');
      inTui = true;
      const targets = [result.home, result.work].map((gw) => ({ name: gw.name, baseUrl: gw.adminUrl, token: gw.token, source: 'mosaic demo (temp dir)' }));
      // The switcher (`g`) also looks for running gateways under XDG_DATA_HOME: the demo's own.
      code = await runTui({ targets, userAgent: `mosaic/${version}`, fetch: nodeFetch, color: out.color, env: { ...process.env, XDG_DATA_HOME: session.dataHome } });
      inTui = false;
    } else if (flags.tui !== false && !out.json && !out.quiet) {
      steps.line(paint(errColor, 'dim', 'Not a terminal, so no TUI (run `pnpm demo` in a terminal to get it; --no-tui skips it there).'));
    }
  } catch (err) {
    if (err instanceof DemoCancelled) code = ExitCode.cancelled;
    else failure = err instanceof DemoStepFailed ? stepError(err) : err instanceof Error ? err : new Error(String(err));
  } finally {
    inTui = false;
    await steps.settle(2_000);
    await session.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
  if (abort.signal.aborted) code = ExitCode.cancelled;
  steps.done(`Stopped both gateways and removed ${session.root}`);
  if (failure !== undefined) throw failure;
  const total = performance.now() - started;
  if (code === ExitCode.ok && result !== undefined) {
    if (out.json) process.stdout.write(`${JSON.stringify(resultJson(result, { tempDir: session.root, durationMs: total }), null, 2)}\n`);
    if (!wantTui) steps.line(`Done in ${formatDuration(total)}.`);
  }
  return code;
}

export function demoCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('demo')
    .description('two embedded gateways, enrolled and queried, then the TUI')
    .option('--no-tui', 'print the steps and results and exit; do not open the TUI')
    .addHelpText(
      'after',
      `
Examples:
  pnpm demo                     # from the repository root: the same as mosaic demo
  mosaic demo --no-tui
  mosaic demo --json | jq '.query.items[] | {_source, id, title}'

Starts gateways "work" and "home" inside this process, in a temp dir with their own config
and secrets (nothing lands in ~/.config, ~/.local/share or the keyring), on free loopback
ports. Seeds work (3 users, 2 teams, tasks, notes, memory, a credential) and home; grants
alice → home tasks and notes (credentials excluded); enrolls home with a pinned token; runs
a merged query (rows tagged local and federated:work); asks for alice's credential, which
work refuses (403 RESOURCE_DENIED), and shows that refusal in work's audit log. On a
terminal the TUI then opens on home (g switches to work). Steps go to stderr, results to
stdout. Ctrl-C stops both gateways and removes the temp dir.

Exit codes: 0 ok · 1 a step failed · 130 Ctrl-C`,
    )
    .action((flags: DemoFlags, cmd: Command) => run(() => runDemo(cmd.optsWithGlobals<GlobalOptions>(), flags, version)));
}
