/**
 * Start the TUI on this terminal: the alternate screen (the shell's screen comes back on exit),
 * Ctrl-C and `q` quit, and the terminal is restored on any exit — crash included.
 */
import { render } from 'ink';
import { AdminClient } from '@mosaic/federation-core/admin-client';
import { App } from './App.js';
import type { AdminApi } from './lib/api.js';
import { localGateways, mergeTargets, type GatewayTarget } from './lib/gateways.js';
import { colorWanted } from './lib/theme.js';

export interface TuiOptions {
  /** The gateways to offer, the one to open first at `initial` (default 0). Local data dirs are added. */
  targets: GatewayTarget[];
  initial?: number;
  /** `user-agent` of the admin client, e.g. `mosaic/0.1.0`. */
  userAgent?: string;
  /** fetch for the admin client (the CLI passes its node:http one). */
  fetch?: typeof fetch;
  /** Colour (default: a TTY, no NO_COLOR, TERM not dumb). */
  color?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Run the TUI until the person quits; resolves with the exit code (0, or 130 on Ctrl-C). */
export async function runTui(options: TuiOptions): Promise<number> {
  const env = options.env ?? process.env;
  const targets = mergeTargets(options.targets, options.targets.length === 0 ? localGateways(env) : []);
  if (targets.length === 0) {
    throw Object.assign(new Error('no gateway to open: none was given and none is running from a local data dir'), {
      code: 'GATEWAY_UNREACHABLE',
      remediation: 'start one with `mosaic gateway start`, or pass --gateway / --data-dir / --profile',
    });
  }
  const clientFor = (t: GatewayTarget): AdminApi =>
    new AdminClient({ baseUrl: t.baseUrl, token: t.token, ...(options.userAgent ? { userAgent: options.userAgent } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) });
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    instance.unmount();
  };
  const instance = render(
    <App targets={targets} initial={options.initial ?? 0} clientFor={clientFor} discover={() => localGateways(env)} color={options.color ?? colorWanted(env)} onInterrupt={() => (interrupted = true)} />,
    { alternateScreen: true, exitOnCtrlC: false, patchConsole: true, incrementalRendering: true, maxFps: 30, interactive: process.stdout.isTTY === true },
  );
  // Ctrl-C arrives as a key in raw mode (the app handles it); as a signal (kill -INT), here.
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    instance.cleanup();
  }
  return interrupted ? 130 : 0;
}
