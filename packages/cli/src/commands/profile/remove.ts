import { Command } from 'commander';
import { outputOptions, type GlobalOptions } from '../../context.js';
import { printResult } from '../../output.js';
import { deleteToken } from '../../profiles/secrets.js';
import { openProfileStore, profileNameArg, readProfiles } from '../../profiles/store.js';
import { profileNotFound } from './use.js';

/** `mosaic profile remove <name>` — forget a profile and its stored token. */
export function profileRemoveCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('remove')
    .description('forget a profile and the admin token kept for it (keyring entry or file)')
    .argument('<name>', 'a saved profile')
    .addHelpText(
      'after',
      `
Example:
  mosaic profile remove lab

The admin token itself stays valid on the gateway: revoke it there with
\`mosaic gateway admin-token revoke <token name>\` if it should stop working.`,
    )
    .action((rawName: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const name = profileNameArg(rawName);
        const { profiles } = readProfiles();
        const profile = profiles[name];
        if (profile === undefined) throw profileNotFound(name, Object.keys(profiles).sort());
        deleteToken(name, profile.token);
        const conf = await openProfileStore();
        const rest = { ...conf.get('profiles') };
        delete rest[name];
        conf.set('profiles', rest);
        const wasDefault = conf.get('default') === name;
        if (wasDefault) conf.delete('default');
        printResult(outputOptions(g), { removed: name, wasDefault }, () =>
          `removed profile "${name}"${wasDefault ? '; there is no default profile now (mosaic profile use <name>)' : ''}`,
        );
      }),
    );
}
