import { Command } from 'commander';
import type { QueryRequest, QueryResponse } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult, UsageError } from '../../../output.js';
import { displayed } from '../../../render/text.js';
import { explained, FederationCliError } from '../errors.js';
import { askedSources, renderQueryItems, renderQueryTable, sourceWarnings, type QueryVerb } from './render.js';

export interface QueryFlags {
  source?: string;
  as?: string;
  limit?: string;
}

/** `--source`: `local`, `all` or `federated:<peer>`; the default is `all`. */
export function parseSource(source: string | undefined): string {
  if (source === undefined) return 'all';
  if (source === 'local' || source === 'all' || (source.startsWith('federated:') && source.length > 'federated:'.length)) return source;
  throw new UsageError(
    `--source: "${displayed(source)}" is not a source`,
    `use local, all, or federated:<peer>${/^[a-z0-9][a-z0-9._-]*$/.test(source) ? ` (did you mean federated:${source}?)` : ''}`,
  );
}

/** `--limit`: 1–10000. */
export function parseLimit(limit: string | undefined): number | undefined {
  if (limit === undefined) return undefined;
  const n = /^\d{1,5}$/.test(limit) ? Number(limit) : NaN;
  if (!(n >= 1 && n <= 10_000)) throw new UsageError(`--limit: "${displayed(limit)}" is not a number from 1 to 10000`, 'e.g. --limit 50');
  return n;
}

/** The request body for a verb, from its arguments and flags. */
export function queryBody(verb: QueryVerb, resource: string, arg: string | undefined, flags: QueryFlags): QueryRequest {
  const common = { resource, source: parseSource(flags.source), ...(flags.as === undefined ? {} : { asUser: flags.as }) } as const;
  if (verb === 'get') {
    if (flags.limit !== undefined) throw new UsageError('--limit does not apply to `query get`');
    return { verb, ...common, id: arg ?? '' } as QueryRequest;
  }
  const limit = parseLimit(flags.limit);
  const withLimit = limit === undefined ? {} : { limit };
  if (verb === 'search') {
    if (arg === undefined || arg.trim() === '') throw new UsageError('query search needs something to search for', 'e.g. mosaic federation query search tasks "release"');
    return { verb, ...common, query: arg, ...withLimit } as QueryRequest;
  }
  return { verb, ...common, ...withLimit } as QueryRequest;
}

/** Print an answer: the body with --json; else rows, a warning line per failed source, and "no rows" said on stderr. */
export function printAnswer(verb: QueryVerb, resource: string, id: string | undefined, answer: QueryResponse, g: GlobalOptions): number {
  const out = outputOptions(g);
  if (!out.json && !out.quiet) for (const line of sourceWarnings(answer)) process.stderr.write(`${line}\n`);
  if (answer.items.length === 0) {
    if (out.json) printResult(out, answer, () => '');
    if (verb === 'get') {
      throw new FederationCliError('NOT_FOUND', `no ${displayed(resource)}/${displayed(id ?? '')} at ${askedSources(answer)}${answer.partial ? ' (some sources failed: see the warnings)' : ''}`, {
        status: 404,
        remediation: 'check the id with `mosaic federation query list ' + displayed(resource) + '`, or try --source all',
      });
    }
    if (!out.json && !out.quiet) process.stderr.write(`no ${displayed(resource)}${verb === 'search' ? ' match' : ''} at ${askedSources(answer)}\n`);
    return ExitCode.ok;
  }
  printResult(out, answer, () => (verb === 'get' ? renderQueryItems(resource, answer, { color: out.color }) : renderQueryTable(answer, { verb, color: out.color })));
  return ExitCode.ok;
}

const SHARED_HELP = `
--source: local (this gateway's own rows), federated:<peer> (one peer), all (default: local and
every peer of the user). --as <user>: whose query it is — one local user never reads through
another's peer; needed when the gateway has more than one user. A source that fails does not
fail the answer: its rows are missing, a warning line says why (stderr), and the exit code is 0.
--json prints the API body: {"items":[… "_source", "_cached"],"sources":[…],"partial"}.`;

/** One `query <verb>` command. */
export function queryVerbCommand(
  verb: QueryVerb,
  version: string,
  run: (fn: () => Promise<number | void>) => void,
  spec: { description: string; argument?: [string, string]; examples: string[] },
): Command {
  const cmd = new Command(verb).description(spec.description).argument('<resource>', 'tasks, notes, memory, …');
  if (spec.argument !== undefined) cmd.argument(spec.argument[0], spec.argument[1]);
  cmd
    .option('--source <source>', 'local | federated:<peer> | all (default all)')
    .option('--as <user>', 'the local user whose query this is (and whose peers are asked)');
  if (verb !== 'get') cmd.option('--limit <n>', 'at most n rows per source (1–10000; default 100)');
  cmd
    .addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n${SHARED_HELP}`)
    .action((...args: unknown[]) => {
      const c = args[args.length - 1] as Command;
      const flags = args[args.length - 2] as QueryFlags;
      const resource = args[0] as string;
      const arg = spec.argument === undefined ? undefined : (args[1] as string);
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const body = queryBody(verb, resource, arg, flags);
        const peer = body.source.startsWith('federated:') ? body.source.slice('federated:'.length) : undefined;
        const answer = await explained(peer === undefined ? {} : { peer }, () => adminClient(g, version).query(body));
        return printAnswer(verb, resource, arg, answer, g);
      });
    });
  return cmd;
}
