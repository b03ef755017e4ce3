import { Command } from 'commander';
import type { TeamMemberRemoved } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { printResult } from '../../output.js';
import { displayed } from '../../render/text.js';

/** `mosaic gateway team …` — team memberships of local users. */
export function teamCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('team').description('teams of this gateway (add them and their members with `gateway seed`)').addHelpText(
    'after',
    `
Example:
  mosaic gateway team remove-member t-eng alice`,
  );
  cmd
    .command('remove-member')
    .description("take a user out of a team; peers reading as that user stop seeing the team's rows at once")
    .argument('<team>', 'the team id')
    .argument('<user>', 'the user id')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway team remove-member t-eng alice
  mosaic gateway team remove-member t-eng alice --json

A user who is not a member (or an unknown team) is exit 1 (TEAM_NOT_FOUND).`,
    )
    .action((team: string, user: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const result = (await adminClient(g, version).removeTeamMember(team, user)) as TeamMemberRemoved;
        printResult(outputOptions(g), result, () => `removed ${displayed(result.userId)} from team ${displayed(result.teamId)}`);
      }),
    );
  return cmd;
}
