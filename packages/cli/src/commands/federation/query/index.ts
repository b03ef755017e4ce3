import { Command } from 'commander';
import { unknownCommand } from '../unknown.js';
import { queryVerbCommand } from './run.js';

/** `mosaic federation query list|get|search` — read local and federated rows through this gateway. */
export function queryCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('query').description('read rows here and on peers, merged, each tagged with its source');
  cmd.addCommand(
    queryVerbCommand('list', version, run, {
      description: 'list rows of a resource, from this gateway and its peers',
      examples: ['mosaic federation query list tasks', 'mosaic federation query list tasks --source federated:work --as alice --limit 20', "mosaic federation query list notes --json | jq '.items[] | select(._source != \"local\")'"],
    }),
  );
  cmd.addCommand(
    queryVerbCommand('get', version, run, {
      description: 'one row by id, from each source that has it',
      argument: ['<id>', 'the row id'],
      examples: ['mosaic federation query get tasks task-1', 'mosaic federation query get tasks task-1 --source federated:work'],
    }),
  );
  cmd.addCommand(
    queryVerbCommand('search', version, run, {
      description: 'search a resource by text (never served from the cache)',
      argument: ['<text>', 'what to look for'],
      examples: ['mosaic federation query search tasks release', 'mosaic federation query search notes "quarterly plan" --source all --as alice'],
    }),
  );
  cmd
    .addHelpText('after', '\nExamples:\n  mosaic federation query list tasks --source all\n  mosaic federation query search notes release --as alice\n\nExit codes: 0 answered (also with no rows, or with some sources failed) · 1 failure (a get found nothing) · 2 usage · 4 admin authentication')
    .allowExcessArguments(true)
    .action((_flags: unknown, c: Command) =>
      run(() => {
        if (c.args.length > 0) return Promise.reject(unknownCommand(c));
        cmd.outputHelp();
        return Promise.resolve();
      }),
    );
  return cmd;
}
