import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { printResult, UsageError } from '../../output.js';

/** Read a JSON document from a file or `-` (stdin), with an error a person can act on. */
export function readJsonInput(source: string, what: string): unknown {
  let text: string;
  try {
    text = source === '-' ? readFileSync(0, 'utf8') : readFileSync(source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} from ${source === '-' ? 'stdin' : source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} (${source === '-' ? 'stdin' : source}) is not valid JSON: ${(err as Error).message}`, 'check the file with `jq . <file>`');
  }
}

export function seedCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('seed')
    .description('load users, teams, memberships and resources (upsert, one transaction)')
    .argument('<file|->', 'seed file (JSON), or - for stdin')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway seed seed.json
  jq '.users' big.json | mosaic gateway seed -

A bad file changes nothing; the error names the bad entry (e.g. resources.tasks[3].teamId).`,
    )
    .action((file: string, _flags: unknown, cmd: Command) =>
      run(async () => {
        const g = cmd.optsWithGlobals<GlobalOptions>();
        const body = readJsonInput(file, 'the seed file');
        const result = await adminClient(g, version).seed(body as never);
        printResult(outputOptions(g), result, () => {
          const counts = Object.entries(result)
            .filter(([, v]) => typeof v === 'number')
            .map(([k, v]) => `${String(v)} ${k}`);
          return `seeded ${counts.length ? counts.join(', ') : 'nothing'}`;
        });
      }),
    );
}
