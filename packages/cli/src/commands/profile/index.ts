import { Command } from 'commander';
import { profileAddCommand } from './add.js';
import { profileListCommand } from './list.js';
import { profileRemoveCommand } from './remove.js';
import { profileUseCommand } from './use.js';

/** `mosaic profile …` — saved gateways, so that commands need no --gateway/--token-file. */
export function profileCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('profile')
    .description('saved gateways: admin API URL, with the admin token in the OS keyring')
    .addHelpText(
      'after',
      `
Examples:
  mosaic profile add work --gateway http://127.0.0.1:8400 --token-file ~/.local/share/mosaic/work/admin-token
  mosaic profile use work
  mosaic --profile lab federation status

Where commands find a gateway, first match wins: --gateway/--token-file; MOSAIC_GATEWAY_URL /
MOSAIC_ADMIN_TOKEN; --data-dir / MOSAIC_DATA_DIR; --profile or the default profile; the default
data dir. Profiles live in $XDG_CONFIG_HOME/mosaic/cli/profiles.json.`,
    );
  cmd.addCommand(profileAddCommand(version, run));
  cmd.addCommand(profileUseCommand(version, run));
  cmd.addCommand(profileListCommand(version, run));
  cmd.addCommand(profileRemoveCommand(version, run));
  return cmd;
}
