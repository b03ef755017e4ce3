import { Command } from 'commander';
import { UsageError } from '../output.js';

/** `mosaic help exit-codes`, and the section of docs/cli.md. */
export const EXIT_CODES_TEXT = `Exit codes of mosaic (the same for every command unless its --help says otherwise):

  0    success — also "no results" (an empty list is not an error)
  1    failure: the gateway refused (not found, conflict, server error) or could not be reached
  2    usage or validation: a bad flag or argument, an invalid scope, a malformed URL,
       a prompt needed off a terminal (e.g. \`grant revoke\` without --yes)
  4    admin authentication failed: no admin token, or a wrong or revoked one
  130  cancelled with Ctrl-C

Commands that differ:
  gateway doctor                  0 no check red · 1 a check red (with --strict: red or yellow)
  federation audit verify         1 when an audit hash chain is broken
  federation peer needs-renewal   0 renewal due · 1 not due · 3 could not tell

Admin API answers map to exit codes: 400 → 2, 401 → 4, anything else that failed → 1.
Errors: one "error: …" line and one "hint: …" line on stderr; with --json,
{"error":{"code":"…","message":"…","remediation":"…"}} on stderr (codes: docs/errors.md).
`;

/** The topics `mosaic help <topic>` knows besides the commands. */
export const HELP_TOPICS: Record<string, string> = { 'exit-codes': EXIT_CODES_TEXT };

/** `mosaic help [command…]` / `mosaic help exit-codes` (replaces commander's own help command). */
export function helpCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('help')
    .description('show help for a command (mosaic help federation grant create), or a topic: exit-codes')
    .argument('[command...]', 'a command path, or exit-codes')
    .addHelpText(
      'after',
      `
Examples:
  mosaic help federation grant edit
  mosaic help exit-codes`,
    )
    .action((words: string[], _flags: unknown, c: Command) =>
      run(() => {
        const topic = words.length === 1 ? HELP_TOPICS[words[0]!] : undefined;
        if (topic !== undefined) {
          process.stdout.write(topic);
          return Promise.resolve();
        }
        let cmd: Command = c.parent ?? c;
        for (const w of words) {
          const sub = cmd.commands.find((s) => s.name() === w || s.aliases().includes(w));
          if (sub === undefined) {
            return Promise.reject(
              new UsageError(`no help for "${words.join(' ')}": "${w}" is not a command of ${cmd.name()}`, `the commands are: ${cmd.commands.map((s) => s.name()).join(', ')}; topics: ${Object.keys(HELP_TOPICS).join(', ')}`),
            );
          }
          cmd = sub;
        }
        cmd.outputHelp();
        return Promise.resolve();
      }),
    );
}
