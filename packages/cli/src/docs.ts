/**
 * docs/cli.md, rendered from the command tree itself: every command's `--help` as `mosaic`
 * prints it (at a fixed width, no colour), so the page cannot drift from the binary. Written by
 * `pnpm docs:cli` (scripts/gen-cli-doc.js); a test fails when the page is stale.
 */
import type { Command } from 'commander';
import { commandTree } from './commands/completion.js';
import { EXIT_CODES_TEXT } from './commands/help.js';
import { expandAll } from './lazy.js';
import { buildProgram } from './main.js';

/** The whole command tree, every lazy command loaded (nothing runs: the actions are never called). */
export async function docProgram(): Promise<Command> {
  return expandAll(buildProgram('0.0.0', () => undefined));
}

/** The width help is wrapped at in the page. */
export const DOC_HELP_WIDTH = 100;

/** The `--help` text of one command as the page shows it. */
export function helpText(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s), getOutHelpWidth: () => DOC_HELP_WIDTH, getOutHasColors: () => false });
  cmd.outputHelp();
  return text.trimEnd();
}

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/** The whole page. */
export function renderCliDoc(root: Command): string {
  const nodes = commandTree(root);
  const title = (path: string[]) => ['mosaic', ...path].join(' ');
  const out = [
    '# `mosaic` — command reference',
    '',
    '<!-- Generated from the command tree by `pnpm docs:cli` (scripts/gen-cli-doc.js). Do not edit by hand:',
    '     packages/cli/src/docs.test.ts fails when this page differs from what the binary prints. -->',
    '',
    "Every command's `--help`, as `mosaic` prints it. Global options (`--json`, `--gateway`,",
    '`--token-file`, `--data-dir`, `--profile`, `--no-color`, `--no-input`, `-q`, `-v`) are',
    'accepted by every command; they are listed once, under `mosaic`. Shell completion:',
    '`mosaic completion bash|zsh|fish`.',
    '',
    '## Commands',
    '',
    ...nodes.map((n) => `- [\`${title(n.path)}\`](#${anchor(title(n.path))}) — ${n.command.description()}`),
    '',
    '## Exit codes',
    '',
    '```text',
    EXIT_CODES_TEXT.trimEnd(),
    '```',
  ];
  for (const n of nodes) out.push('', `## ${title(n.path)}`, '', '```text', helpText(n.command), '```');
  return `${out.join('\n')}\n`;
}
