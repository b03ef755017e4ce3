import { Command } from 'commander';
import type { CreateGrantRequest } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { printResult } from '../../../output.js';
import { readJsonInput } from '../../gateway/seed.js';
import { renderCreated } from './render.js';
import { durationFlag, scopeTools } from './shared.js';

interface CreateFlags {
  user: string;
  peer: string;
  scope: string;
  allowSensitive?: boolean;
  expiresIn?: string;
}

/** Flags → the API body. The scope is checked here with the gateway's own rules first (exit 2 with every problem's path). */
export async function createRequest(flags: CreateFlags, now = Date.now()): Promise<CreateGrantRequest> {
  const scope = readJsonInput(flags.scope, 'the scope');
  const allowSensitive = flags.allowSensitive === true;
  const { validateScope } = await scopeTools();
  validateScope(scope, { allowSensitive });
  const body: CreateGrantRequest = { subjectUserId: flags.user, peerName: flags.peer, scope: scope as CreateGrantRequest['scope'] };
  if (allowSensitive) body.allowSensitive = true;
  if (flags.expiresIn !== undefined) body.expiresAt = new Date(now + durationFlag('--expires-in', flags.expiresIn, '90d')).toISOString();
  return body;
}

/** `mosaic federation grant create` — let a peer read, for a local user, what a scope allows. */
export function grantCreateCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('create')
    .description('let a peer gateway read, on behalf of a local user, what a scope allows (the grant starts pending)')
    .requiredOption('--user <id>', 'the local user the peer reads as (the subject)')
    .requiredOption('--peer <name>', "the peer's name (becomes its certificate's CN)")
    .requiredOption('--scope <file|->', 'the scope JSON, or - for stdin')
    .option('--allow-sensitive', 'allow credentials / api_keys in the scope')
    .option('--expires-in <duration>', 'the grant ends after this long (90s, 15m, 12h, 30d; default: never)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant create --user alice --peer home --scope scope.json --expires-in 90d
  echo '{"resources":["tasks","notes"],"max_rows_per_query":500}' | \\
    mosaic federation grant create --user alice --peer home --scope -

Scope: {"resources":[…],"excluded_resources":[…],"filters":{"tasks":{"include_teams":[…],
"include_personal":true}},"max_rows_per_query":500,"rate_limit_per_minute":60}
An invalid scope is exit 2 and lists every problem with its path. Next: \`grant token <id>\`.`,
    )
    .action((flags: CreateFlags, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const body = await createRequest(flags);
        const grant = await adminClient(g, version).createGrant(body);
        printResult(out, grant, () => renderCreated(grant, { now: Date.now(), color: out.color }));
      }),
    );
}
