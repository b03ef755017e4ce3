import { Command, Option } from 'commander';
import type { GrantListFilter } from '@mosaic/federation-core/admin-client';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import type * as Render from './render.js';
import { GRANT_STATUSES } from './shared.js';

/** `mosaic federation grant list` — the grants of this (serving) gateway, newest first. */
export function grantListCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('list')
    .description('list the grants of this gateway, newest first')
    .addOption(new Option('--status <status>', 'only grants in this state').choices(GRANT_STATUSES))
    .option('--peer <name>', 'only grants to this peer')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant list
  mosaic federation grant list --status active --peer home
  mosaic federation grant list --json | jq -r '.items[] | select(.status=="pending") | .id'

"No grants" is exit 0 (with a note on stderr).`,
    )
    .action((flags: GrantListFilter, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const filter: GrantListFilter = {};
        if (flags.status !== undefined) filter.status = flags.status;
        if (flags.peer !== undefined) filter.peer = flags.peer;
        const list = await adminClient(g, version).listGrants(filter);
        if (list.items.length === 0 && !out.json) {
          if (!out.quiet) process.stderr.write('no grants match\n');
          return ExitCode.ok;
        }
        // the table renderer only for people: `--json` (scripts, the benchmark) skips loading it
        const render: typeof Render | null = out.json ? null : await import('./render.js');
        printResult(out, list, () => render!.renderGrantTable(list.items, { now: Date.now(), color: out.color }));
        return ExitCode.ok;
      }),
    );
}
