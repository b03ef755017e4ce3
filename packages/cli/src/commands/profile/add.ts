import { chmodSync, mkdirSync } from 'node:fs';
import { Command } from 'commander';
import { AdminClient } from '@mosaic/federation-core/admin-client';
import { outputOptions, readToken, type GlobalOptions } from '../../context.js';
import { printResult, UsageError } from '../../output.js';
import { storeToken } from '../../profiles/secrets.js';
import { cliConfigDir, openProfileStore, profileNameArg, readProfiles, type Profile } from '../../profiles/store.js';

/** What `profile add --json` prints: the profile as stored (never the token). */
export interface ProfileAdded {
  name: string;
  gateway: string;
  token: Profile['token'];
  tokenFile?: string;
  default: boolean;
  replaced: boolean;
}

/** `mosaic profile add <name> --gateway <url> [--token-file f]`. */
export function profileAddCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('add')
    .description('save a gateway (admin API URL, and its admin token in the OS keyring) under a name')
    .argument('<name>', 'a name for it: work, lab, …')
    .addHelpText(
      'after',
      `
Examples:
  mosaic profile add work --gateway http://127.0.0.1:8400 --token-file ~/.local/share/mosaic/work/admin-token
  pass show mosaic/lab | mosaic profile add lab --gateway https://lab.example.net:8400 --token-file -
  MOSAIC_ADMIN_TOKEN=… mosaic profile add ci --gateway https://gw.internal:8400

The token comes from --token-file (a file, or - for stdin) or MOSAIC_ADMIN_TOKEN, never from a
flag value. It goes to the OS keyring; where no keyring service runs (a headless machine) it
goes to a 0600 file under $XDG_CONFIG_HOME/mosaic/cli/tokens/, and the command says so.
The first profile becomes the default; \`profile use\` changes it. Adding an existing name replaces it.`,
    )
    .action((rawName: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const name = profileNameArg(rawName);
        if (g.gateway === undefined) throw new UsageError('profile add needs the admin API URL', `pass --gateway <url>, e.g. mosaic profile add ${name} --gateway http://127.0.0.1:8400 --token-file <file>`);
        // The same rules as every command's client: http(s), plain http only on loopback.
        const gateway = new AdminClient({ baseUrl: g.gateway }).baseUrl;
        let token: string | undefined;
        if (g.tokenFile !== undefined) token = readToken(g.tokenFile);
        else if (process.env.MOSAIC_ADMIN_TOKEN?.trim()) {
          token = process.env.MOSAIC_ADMIN_TOKEN.trim();
          if (!out.quiet) process.stderr.write('mosaic: the admin token is taken from MOSAIC_ADMIN_TOKEN\n');
        }
        const before = readProfiles();
        const replaced = before.profiles[name] !== undefined;
        const dir = cliConfigDir();
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chmodSync(dir, 0o700);
        let store: Profile['token'] = 'none';
        let tokenFile: string | undefined;
        if (token !== undefined) {
          const stored = storeToken(name, token);
          store = stored.store;
          if (stored.store === 'file') {
            tokenFile = stored.path;
            if (!out.quiet) process.stderr.write(
              `mosaic: no OS keyring service here${g.verbose === true && stored.reason ? ` (${stored.reason})` : ''}; the admin token of "${name}" is kept in ${stored.path} (mode 0600) instead\n`,
            );
          }
        } else if (!out.quiet) {
          process.stderr.write(`mosaic: profile "${name}" has no admin token; commands will need --token-file or MOSAIC_ADMIN_TOKEN\n`);
        }
        const conf = await openProfileStore();
        const profiles = { ...conf.get('profiles') };
        profiles[name] = { gateway, token: store, addedAt: new Date().toISOString() };
        conf.set('profiles', profiles);
        const current = conf.get('default');
        const isDefault = current === undefined || current === name || profiles[current] === undefined;
        if (isDefault) conf.set('default', name);
        const result: ProfileAdded = { name, gateway, token: store, ...(tokenFile !== undefined ? { tokenFile } : {}), default: isDefault, replaced };
        printResult(out, result, () => {
          const where = store === 'keyring' ? 'token in the OS keyring' : store === 'file' ? `token in ${tokenFile ?? 'a file'}` : 'no token';
          return `${replaced ? 'replaced' : 'added'} profile "${name}": ${gateway} (${where})${isDefault ? ' — the default' : `; make it the default with: mosaic profile use ${name}`}`;
        });
      }),
    );
}
