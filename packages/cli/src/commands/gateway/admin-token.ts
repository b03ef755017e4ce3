import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { printResult } from '../../output.js';

export function adminTokenCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('admin-token')
    .description('manage the named admin tokens of a gateway')
    .addHelpText('after', '\nExamples:\n  mosaic gateway admin-token create ci > ci.token && chmod 600 ci.token\n  mosaic gateway admin-token revoke ci');
  cmd
    .command('create')
    .description('make a new admin token (shown once)')
    .argument('<name>', 'a name for it, recorded in audit rows (e.g. ci, alice)')
    .addHelpText('after', '\nExample:\n  mosaic gateway admin-token create ci > ci.token && chmod 600 ci.token')
    .action((name: string, _f: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const created = await adminClient(g, version).createAdminToken(name);
        const out = outputOptions(g);
        printResult(out, created, () => created.token);
        if (!out.json && process.stdout.isTTY) process.stderr.write(`admin token "${name}" created; it is shown only this once\n`);
      }),
    );
  cmd
    .command('list')
    .description('list admin tokens (names and dates, never the tokens)')
    .addHelpText('after', "\nExamples:\n  mosaic gateway admin-token list\n  mosaic gateway admin-token list --json | jq -r '.items[].name'")
    .action((_f: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const list = await adminClient(g, version).listAdminTokens();
        printResult(outputOptions(g), list, () =>
          ['NAME                CREATED               LAST USED', ...list.items.map((t) => `${t.name.padEnd(20)}${t.createdAt.slice(0, 19).padEnd(22)}${t.lastUsedAt?.slice(0, 19) ?? '—'}`)].join('\n'),
        );
      }),
    );
  cmd
    .command('revoke')
    .description('revoke an admin token at once')
    .addHelpText('after', '\nExample:\n  mosaic gateway admin-token revoke ci\n\nA token cannot revoke itself: use another one (e.g. root from <data dir>/admin-token).')
    .argument('<name>')
    .action((name: string, _f: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const result = await adminClient(g, version).revokeAdminToken(name);
        printResult(outputOptions(g), result, () => `revoked admin token "${name}"`);
      }),
    );
  return cmd;
}
