/**
 * The CLI's interactive tests run the built `mosaic` in a real terminal (tmux; see
 * federation-core's test support). With `CI=true` a missing tmux is a failure, not a skip.
 */
import { openTerminal as open, type Terminal } from '@mosaic/federation-core/test-support/terminal';
import { BIN } from './gateways.js';

export { tmuxAvailable, type Terminal } from '@mosaic/federation-core/test-support/terminal';

/** Run `mosaic <args>` in a new tmux session (100×30 by default). */
export function openTerminal(dir: string, env: NodeJS.ProcessEnv, args: string[], size?: { columns: number; rows: number }): Terminal {
  return open(BIN, dir, env, args, size);
}
