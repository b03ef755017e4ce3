import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { printResult } from '../../../output.js';
import { renderGrant } from './render.js';
import { getGrantByPrefix, grantIdArg } from './shared.js';

/** `mosaic federation grant show <id>` — one grant in full. */
export function grantShowCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('show')
    .description('show one grant: who, to whom, its state, certificate and scope')
    .argument('<grant-id>', 'a grant id or a unique prefix (at least 4 characters)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant show 6b1f
  mosaic federation grant show 6b1f --json | jq .scope`,
    )
    .action((id: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const grant = await getGrantByPrefix(adminClient(g, version), grantIdArg(id));
        printResult(out, grant, () => renderGrant(grant, { now: Date.now(), color: out.color }));
      }),
    );
}
