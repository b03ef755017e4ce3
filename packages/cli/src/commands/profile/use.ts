import { Command } from 'commander';
import { outputOptions, type GlobalOptions } from '../../context.js';
import { printResult } from '../../output.js';
import { openProfileStore, profileNameArg, readProfiles } from '../../profiles/store.js';

/** A profile that is not there: exit 1, with the known names. */
export function profileNotFound(name: string, known: string[]): Error {
  return Object.assign(new Error(`no profile "${name}"`), {
    code: 'PROFILE_NOT_FOUND',
    status: 404,
    remediation: known.length > 0 ? `the profiles are: ${known.join(', ')}` : 'add one: mosaic profile add <name> --gateway <url> --token-file <file>',
  });
}

/** `mosaic profile use <name>` — the profile commands use when nothing else says which gateway. */
export function profileUseCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('use')
    .description('make a profile the default (used when no flag, env or data dir names a gateway)')
    .argument('<name>', 'a saved profile')
    .addHelpText(
      'after',
      `
Examples:
  mosaic profile use lab
  mosaic --profile work federation grant list     # one command on another profile`,
    )
    .action((rawName: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const name = profileNameArg(rawName);
        const { profiles } = readProfiles();
        if (profiles[name] === undefined) throw profileNotFound(name, Object.keys(profiles).sort());
        const conf = await openProfileStore();
        conf.set('default', name);
        printResult(outputOptions(g), { default: name }, () => `the default profile is now "${name}" (${profiles[name]!.gateway})`);
      }),
    );
}
