import { Command } from 'commander';
import type { UserRemoved } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { printResult } from '../../output.js';
import { displayed, plural } from '../../render/text.js';

/** `removed user alice; revoked 2 grants: 6b1f2c3d, 7c2a9e01`. */
export function renderUserRemoved(r: UserRemoved): string {
  const grants = r.revokedGrantIds.length === 0 ? 'no grants had them as subject' : `revoked ${plural(r.revokedGrantIds.length, 'grant')}: ${r.revokedGrantIds.map((id) => id.slice(0, 8)).join(', ')}`;
  return `removed user ${displayed(r.userId)}; ${grants}`;
}

/** `mosaic gateway user …` — local users (the directory). `remove` is the verb the API offers. */
export function userCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('user').description('local users of this gateway (add them with `gateway seed`)').addHelpText(
    'after',
    `
Example:
  mosaic gateway user remove alice`,
  );
  cmd
    .command('remove')
    .description('remove a user, their memberships and rows; revokes every grant whose subject they were')
    .argument('<id>', 'the user id')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway user remove alice
  mosaic gateway user remove alice --json | jq -r '.revokedGrantIds[]'

The revoked grants' peers lose access at once. An unknown user is exit 1 (USER_NOT_FOUND).`,
    )
    .action((id: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const result = (await adminClient(g, version).removeUser(id)) as UserRemoved;
        printResult(outputOptions(g), result, () => renderUserRemoved(result));
      }),
    );
  return cmd;
}
