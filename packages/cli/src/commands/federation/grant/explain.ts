import { Command, Option } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { printResult } from '../../../output.js';
import { renderExplain } from './render.js';
import { getGrantByPrefix, grantIdArg, RESOURCES } from './shared.js';

/** `mosaic federation grant explain <id> --resource r` — what the peer would see, row by row, and why. */
export function grantExplainCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('explain')
    .description("what the grant's peer would see of a resource, row by row, with the rule that admitted or hid each row")
    .argument('<grant-id>', 'a grant id or a unique prefix (at least 4 characters)')
    .addOption(new Option('--resource <resource>', 'the resource to explain').choices(RESOURCES).makeOptionMandatory())
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant explain 6b1f --resource tasks
  mosaic federation grant explain 6b1f --resource notes --json | jq '.rows[] | select(.included)'

Rules: ok · scope.excluded · scope.not_listed · rbac (the subject cannot read it) ·
filter.team · filter.personal · cap (beyond max_rows_per_query). Uses the subject's teams as
they are now, and the same pipeline as the federation verbs.`,
    )
    .action((id: string, flags: { resource: string }, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const admin = adminClient(g, version);
        const grant = await getGrantByPrefix(admin, grantIdArg(id));
        const explained = await admin.explainGrant(grant.id, flags.resource);
        printResult(out, explained, () => renderExplain(explained, grant, out.color));
      }),
    );
}
