import { Command } from 'commander';
import { unknownCommand } from '../unknown.js';
import { peerAddCommand } from './add.js';
import { peerInspectCommand } from './inspect.js';
import { peerListCommand } from './list.js';
import { peerNeedsRenewalCommand } from './needs-renewal.js';
import { peerRemoveCommand } from './remove.js';
import { peerRenewCommand } from './renew.js';
import { peerShowCommand } from './show.js';

/** `mosaic federation peer …` — the gateways this one reads from (the requesting side). */
export function peerCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('peer').description('the gateways this one reads from: add (enroll), list, show, inspect, renew, remove');
  for (const sub of [peerAddCommand, peerListCommand, peerShowCommand, peerInspectCommand, peerNeedsRenewalCommand, peerRenewCommand, peerRemoveCommand]) {
    cmd.addCommand(sub(version, run));
  }
  cmd
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer add                 # the wizard, on a terminal
  mosaic federation peer list
  mosaic federation peer inspect work`,
    )
    .allowExcessArguments(true)
    .action((_flags: unknown, c: Command) =>
      run(() => {
        if (c.args.length > 0) return Promise.reject(unknownCommand(c));
        cmd.outputHelp();
        return Promise.resolve();
      }),
    );
  return cmd;
}
