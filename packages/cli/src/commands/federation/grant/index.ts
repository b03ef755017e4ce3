import { Command } from 'commander';
import { lazyCommand } from '../../../lazy.js';

/** `mosaic federation grant …` — the serving side: who may read what from this gateway. */
export function grantCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('grant')
    .description('the serving side: which peer may read what, on behalf of which local user')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant create --user alice --peer home --scope scope.json
  mosaic federation grant token 6b1f           # then send the printed line to home's admin
  mosaic federation grant list --status active
  mosaic federation grant explain 6b1f --resource tasks

Grant ids may be shortened to any unique prefix of at least 4 characters.`,
    );
  // Each verb's module is imported when it runs (lazy.ts): `grant list` never loads the editor flow.
  const verbs = [
    ['create', 'let a peer read what a scope allows', async () => (await import('./create.js')).grantCreateCommand(version, run)],
    ['list', 'list grants', async () => (await import('./list.js')).grantListCommand(version, run)],
    ['show', 'show one grant', async () => (await import('./show.js')).grantShowCommand(version, run)],
    ['edit', "change a grant's scope", async () => (await import('./edit.js')).grantEditCommand(version, run)],
    ['revoke', 'end a grant now', async () => (await import('./revoke.js')).grantRevokeCommand(version, run)],
    ['token', 'make an enrollment token', async () => (await import('./token.js')).grantTokenCommand(version, run)],
    ['explain', 'what the peer would see, row by row', async () => (await import('./explain.js')).grantExplainCommand(version, run)],
  ] as const;
  for (const [name, description, load] of verbs) cmd.addCommand(lazyCommand(name, description, load));
  return cmd;
}
