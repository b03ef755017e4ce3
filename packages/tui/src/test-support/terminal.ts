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
export function openTerminal(dir: string, env: NodeJS.ProcessEnv, args: string[], size?: { columns: number; rows: number }): Terminal {
  return open(TUI_BIN, dir, env, args, size);
}
