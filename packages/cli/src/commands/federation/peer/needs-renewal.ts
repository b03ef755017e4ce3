import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printError, printResult, toCliError } from '../../../output.js';
import { explainFederationError } from '../errors.js';
import { renderNeedsRenewal, renewalStanding } from './render.js';

/** Exit codes of `needs-renewal` (CONTRACT.md): due · not due · could not tell. */
export const NeedsRenewalExit = { due: 0, notDue: 1, unknown: 3 } as const;

/** `mosaic federation peer needs-renewal <name>` — for scripts and cron: exit 0 when renewal is due. */
export function peerNeedsRenewalCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('needs-renewal')
    .description('exit 0 when the peer\'s certificate is due for renewal, 1 when not, 3 when that cannot be told')
    .argument('<name>', 'the peer\'s local name')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer needs-renewal work && mosaic federation peer renew work
  mosaic federation peer needs-renewal work -q; echo $?

Renewal is due once 2/3 of the certificate's lifetime has passed, and never later than 7 days
before it expires (the renewalDueAt of the Peer body; --json prints that body).

Exit codes: 0 renewal due (or the certificate expired) · 1 not due · 3 could not tell (unknown
peer, gateway down, admin authentication failed) · 2 usage`,
    )
    .action((name: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        let peer;
        try {
          peer = await adminClient(g, version).getPeer(name);
        } catch (err) {
          // "Could not tell" is its own exit code here, whatever the reason.
          const said = toCliError(explainFederationError(err, { peer: name }));
          printError(out, said, process.stderr.isTTY === true && !out.json && !process.env.NO_COLOR);
          return said.exitCode === ExitCode.usage ? ExitCode.usage : NeedsRenewalExit.unknown;
        }
        const now = Date.now();
        printResult(out, peer, () => renderNeedsRenewal(peer, now));
        return renewalStanding(peer, now).due ? NeedsRenewalExit.due : NeedsRenewalExit.notDue;
      }),
    );
}
