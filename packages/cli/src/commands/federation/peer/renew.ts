import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import { displayed, relativeWhen } from '../../../render/text.js';
import { explainFederationError, FederationCliError } from '../errors.js';
import { shortSerial } from './render.js';

/** `mosaic federation peer renew <name>` — renew the peer's certificate now (only while due). */
export function peerRenewCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('renew')
    .description('renew the peer\'s client certificate now, over mTLS (the serving side accepts it only once renewal is due)')
    .argument('<name>', 'the peer\'s local name')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer needs-renewal work && mosaic federation peer renew work

The gateway also renews by itself once renewal is due; this is for doing it now.`,
    )
    .action((name: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        let peer;
        try {
          peer = await adminClient(g, version).renewPeer(name);
        } catch (err) {
          // A gateway without the renew route answers 404 ROUTE_NOT_FOUND (an unknown peer is PEER_NOT_FOUND).
          if ((err as { code?: unknown }).code === 'ROUTE_NOT_FOUND') {
            throw new FederationCliError('RENEW_UNSUPPORTED', 'this gateway cannot renew peers on request: POST /api/admin/peers/:name/renew answered 404 (its version has no such route)', {
              status: 404,
              remediation: 'upgrade the gateway; until then ask the serving admin for `mosaic federation grant token <grant id> --reenroll` and run `peer add` again',
              cause: err,
            });
          }
          throw explainFederationError(err, { peer: name });
        }
        printResult(out, peer, () => `renewed peer "${displayed(peer.name)}": serial ${shortSerial(peer.certSerial)}, expires ${relativeWhen(peer.certNotAfter, Date.now())}; next renewal due ${relativeWhen(peer.renewalDueAt, Date.now())}`);
        return ExitCode.ok;
      }),
    );
}
