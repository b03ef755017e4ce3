/**
 * The end-to-end test runs the built `mosaic-tui` in a real terminal (tmux; see
 * federation-core's test support).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTerminal as open, type Terminal } from '@mosaic/federation-core/test-support/terminal';

export { tmuxAvailable, type Terminal } from '@mosaic/federation-core/test-support/terminal';

export const TUI_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');

/** Run `mosaic-tui <args>` in a new tmux session (100×30 by default). */
export function openTerminal(dir: string, env: NodeJS.ProcessEnv, args: string[], size?: { columns: number; rows: number }, options?: { noColor?: boolean; script?: string }): Terminal {
  return open(options?.script ?? TUI_BIN, dir, env, args, size, options);
}

/**
 * A script that runs the built TUI (`runTui`) on a data dir's gateway and crashes it from the
 * inside: from the second peer list on, the admin API's answer is swapped for a peer whose name
 * is not a string, so a component throws while rendering — a bug in the app, as a person would
 * meet it. `node crash-fixture.js <data dir>`.
 */
export const CRASH_FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), 'crash-fixture.js');
