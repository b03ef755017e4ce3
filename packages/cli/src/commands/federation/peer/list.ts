import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import { explained } from '../errors.js';
import { NO_PEERS, renderPeerTable } from './render.js';

/** `mosaic federation peer list` — the gateways this one reads from. */
export function peerListCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('list')
    .description('list the peers this gateway reads from: state, owner, certificate expiry, circuit')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer list
  mosaic federation peer list --json | jq -r '.items[] | select(.state != "active") | .name'

CERT EXPIRES shows ⚠ once renewal is due (2/3 of the lifetime, or 7 days before expiry).
"No peers" is exit 0.`,
    )
    .action((_flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const list = await explained({}, () => adminClient(g, version).listPeers());
        if (list.items.length === 0 && !out.json) {
          if (!out.quiet) process.stderr.write(`${NO_PEERS}\n`);
          return ExitCode.ok;
        }
        printResult(out, list, () => renderPeerTable(list.items, { now: Date.now(), color: out.color }));
        return ExitCode.ok;
      }),
    );
}
