import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import { explained } from '../errors.js';
import { renderPeerDetail } from './render.js';

/** `mosaic federation peer show <name>` — one peer, every field a person needs. */
export function peerShowCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('show')
    .description('show one peer: state, owner, what it may read, certificate and renewal, last success and error')
    .argument('<name>', 'the peer\'s local name (see `peer list`)')
    .addHelpText('after', '\nExamples:\n  mosaic federation peer show work\n  mosaic federation peer show work --json | jq .capabilities')
    .action((name: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const peer = await explained({ peer: name }, () => adminClient(g, version).getPeer(name));
        printResult(out, peer, () => renderPeerDetail(peer, { now: Date.now(), color: out.color }));
        return ExitCode.ok;
      }),
    );
}
