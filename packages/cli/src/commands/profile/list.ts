import { Command } from 'commander';
import { outputOptions, type GlobalOptions } from '../../context.js';
import { ExitCode, printResult } from '../../output.js';
import { tokenFilePath } from '../../profiles/secrets.js';
import { readProfiles, type Profile } from '../../profiles/store.js';
import { renderTable, type Column } from '../../render/text.js';

/** One row of `profile list --json` (never the token itself). */
export interface ProfileRow {
  name: string;
  gateway: string;
  token: Profile['token'];
  tokenFile?: string;
  default: boolean;
}

/** `mosaic profile list`. */
export function profileListCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('list')
    .description('list saved profiles; * marks the default')
    .addHelpText(
      'after',
      `
Examples:
  mosaic profile list
  mosaic profile list --json | jq -r '.items[] | select(.default) | .gateway'`,
    )
    .action((_flags: unknown, c: Command) =>
      run(() => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const file = readProfiles();
        const items: ProfileRow[] = Object.entries(file.profiles)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, p]) => ({ name, gateway: p.gateway, token: p.token, ...(p.token === 'file' ? { tokenFile: tokenFilePath(name) } : {}), default: file.default === name }));
        if (items.length === 0 && !out.json) {
          if (!out.quiet) process.stderr.write('no profiles; add one: mosaic profile add <name> --gateway <url> --token-file <file>\n');
          return Promise.resolve(ExitCode.ok);
        }
        const columns: Column<ProfileRow>[] = [
          { title: ' ', width: 1, cell: (r) => (r.default ? '*' : ' ') },
          { title: 'NAME', width: 12, cell: (r) => r.name },
          { title: 'GATEWAY', width: 40, cell: (r) => r.gateway },
          { title: 'TOKEN', width: 10, cell: (r) => (r.token === 'file' ? 'file 0600' : r.token) },
        ];
        printResult(out, { items }, () => renderTable(columns, items, out.color));
        return Promise.resolve(ExitCode.ok);
      }),
    );
}
