import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult, UsageError } from '../../../output.js';
import { displayed } from '../../../render/text.js';
import { canPrompt, confirm } from '../../../tty.js';
import { explained } from '../errors.js';

/** `mosaic federation peer remove <name>` — forget a peer: its key, certificate and cached answers. */
export function peerRemoveCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('remove')
    .description('remove a peer: its sealed key and certificate are deleted here (the grant on the serving side stays until its admin revokes it)')
    .argument('<name>', 'the peer\'s local name')
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer remove work          # asks first
  mosaic federation peer remove work --yes    # scripts

Exit codes: 0 removed · 1 failed (unknown peer) or answered no · 2 no --yes off a terminal · 130 Ctrl-C`,
    )
    .action((name: string, flags: { yes?: boolean }, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const admin = adminClient(g, version);
        if (flags.yes !== true) {
          if (!canPrompt(g)) throw new UsageError(`peer remove deletes peer "${displayed(name)}" and its key: pass --yes to confirm when not on a terminal`, `mosaic federation peer remove ${name} --yes`);
          // the peer must exist before anyone is asked about it
          const peer = await explained({ peer: name }, () => admin.getPeer(name));
          const answer = await confirm(
            `Remove peer "${displayed(peer.name)}" (${displayed(peer.endpoint)}, owned by ${displayed(peer.localUserId)})? Its key and certificate are deleted; enrolling again needs a new token.`,
          );
          if (answer.kind === 'cancelled') {
            process.stderr.write('cancelled: nothing removed\n');
            return ExitCode.cancelled;
          }
          if (answer.kind === 'no') {
            // as `grant revoke`: a "no" keeps it and is not a success
            process.stderr.write(`kept peer "${displayed(peer.name)}": nothing removed\n`);
            return ExitCode.failure;
          }
        }
        const result = await explained({ peer: name }, () => admin.removePeer(name));
        printResult(out, result, () => `removed peer "${displayed(name)}": its key and certificate are deleted here; the grant on the serving side stays until its admin revokes it`);
        return ExitCode.ok;
      }),
    );
}
