import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Grant, Scope } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult, UsageError } from '../../../output.js';
import { displayed } from '../../../render/text.js';
import { canPrompt } from '../../../tty.js';
import { readJsonInput } from '../../gateway/seed.js';
import { renderEdited } from './render.js';
import { getGrantByPrefix, grantIdArg, scopeTools, shortId } from './shared.js';

interface EditFlags {
  scope?: string;
  set: string[];
  allowSensitive?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** An error a person can act on, with its exit code through the status (400 → 2, else 1). */
function coded(code: string, message: string, status: number, remediation?: string): Error {
  return Object.assign(new Error(message), { code, status, remediation });
}

/** `path: message` lines of a refused scope (local or the gateway's `details`). */
export function problemLines(err: unknown): string[] {
  const e = err as { message?: unknown; details?: unknown };
  if (Array.isArray(e.details) && e.details.length > 0) {
    return (e.details as Array<{ path?: unknown; message?: unknown }>).map((d) => `${typeof d.path === 'string' && d.path !== '' ? d.path : '(scope)'}: ${String(d.message)}`);
  }
  return [String(e.message)];
}

/** A refusal the editor loop can show and let the person fix: a scope problem, not a broken gateway. */
function isScopeRefusal(err: unknown): boolean {
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown };
  return e.code === 'SCOPE_INVALID' || e.code === 'SCOPE_SENSITIVE' || e.code === 'VALIDATION_FAILED' || e.status === 400 || e.statusCode === 400;
}

/** JSON with sorted keys: two scopes that mean the same compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Drop the `#` comment lines the editor file starts with (JSON has no comments of its own). */
export function stripComments(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
}

function header(g: Grant, problems: readonly string[]): string {
  const lines = [
    `# The scope of grant ${shortId(g.id)}… (${displayed(g.subjectUserId)} → ${displayed(g.peerName)}, ${g.status}).`,
    "# Lines starting with '#' are ignored. Save and quit to apply it; empty the file to cancel.",
    '# Keys: resources, excluded_resources, filters.<resource>.include_teams / include_personal,',
    '#       max_rows_per_query (1..10000), rate_limit_per_minute.',
  ];
  if (problems.length > 0) {
    lines.push('#', '# Not saved — fix this and save again (or save unchanged to give up):');
    for (const p of problems) lines.push(`#   ${displayed(p)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The editor people chose: $VISUAL, $EDITOR, else vi. */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi';
}

function runEditor(editor: string, file: string): 'saved' | 'interrupted' {
  // Through the shell, as git does: EDITOR may carry arguments ("code --wait").
  const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'mosaic-editor', file], { stdio: 'inherit' });
  if (r.signal === 'SIGINT' || r.status === 130) return 'interrupted';
  if (r.error !== undefined) throw coded('EDITOR_FAILED', `cannot start the editor "${editor}": ${r.error.message}`, 500, 'set EDITOR to an editor that is installed, or use --scope / --set');
  if (r.status !== 0) throw coded('EDITOR_FAILED', `the editor "${editor}" exited with ${r.status === null ? `signal ${r.signal}` : `status ${r.status}`}: nothing saved`, 500, 'use --scope <file> or --set key=value instead');
  return 'saved';
}

/**
 * `$EDITOR` on the scope, `kubectl edit` style: the scope in a 0600 temp file, validated after
 * each save with the gateway's own rules; a refused save reopens the editor with the problems
 * on top; saving it unchanged, or emptying it, gives up. Returns the saved grant, or null when
 * nothing changed.
 */
export async function editInEditor(current: Grant, options: { allowSensitive: boolean; editor: string; save: (scope: unknown) => Promise<Grant> }): Promise<Grant | null> {
  const { validateScope } = await scopeTools();
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-grant-edit-'));
  const file = join(dir, `grant-${shortId(current.id)}.scope.json`);
  const original = canonical(current.scope);
  let body = `${JSON.stringify(current.scope, null, 2)}\n`;
  let problems: string[] = [];
  // Ctrl-C reaches the editor and us alike. Ours is held (a listener keeps Node alive); when the
  // editor died of it, give up cleanly: temp file removed, nothing saved, exit 130. An editor
  // that takes Ctrl-C as a key (vi) goes on as usual.
  const onSigint = () => undefined;
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      const written = header(current, problems) + body;
      writeFileSync(file, written, { mode: 0o600 });
      if (runEditor(options.editor, file) === 'interrupted') throw Object.assign(coded('CANCELLED', 'cancelled: nothing saved', 500), { exitCode: ExitCode.cancelled });
      const after = readFileSync(file, 'utf8');
      const text = stripComments(after);
      if (text.trim() === '') throw coded('EDIT_CANCELLED', 'the scope was emptied: nothing saved', 500);
      if (problems.length > 0 && after === written) {
        throw coded('SCOPE_INVALID', `the scope still has problems and was saved unchanged: nothing saved\n${problems.map((p) => `  ${p}`).join('\n')}`, 400);
      }
      body = text.endsWith('\n') ? text : `${text}\n`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        problems = [`not valid JSON: ${(err as Error).message}`];
        continue;
      }
      let scope: Scope;
      try {
        scope = validateScope(parsed, { allowSensitive: options.allowSensitive, previous: current.scope });
      } catch (err) {
        if (!isScopeRefusal(err)) throw err;
        problems = problemLines(err);
        continue;
      }
      if (canonical(scope) === original) return null;
      try {
        return await options.save(parsed);
      } catch (err) {
        if (!isScopeRefusal(err)) throw err;
        problems = problemLines(err);
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `mosaic federation grant edit <id>` — change a grant's scope (in effect on the peer's next request). */
export function grantEditCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('edit')
    .description("change a grant's scope; the peer's next request already follows it")
    .argument('<grant-id>', 'a grant id or a unique prefix (at least 4 characters)')
    .option('--scope <file|->', 'replace the whole scope with this JSON, or - for stdin')
    .option('--set <key=value>', 'change one field; repeat for more (see below)', collect, [])
    .option('--allow-sensitive', 'allow adding credentials / api_keys')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant edit 6b1f --set max_rows_per_query=100
  mosaic federation grant edit 6b1f --set resources=tasks,notes --set filters.tasks.include_teams=t1,t2
  mosaic federation grant edit 6b1f --set rate_limit_per_minute=600
  mosaic federation grant edit 6b1f --scope new-scope.json
  mosaic federation grant edit 6b1f                  # on a terminal: opens $EDITOR on the scope

--set keys: resources, excluded_resources (comma lists), max_rows_per_query,
rate_limit_per_minute (numbers; null = default), filters.<resource> (null or JSON),
filters.<resource>.include_teams (comma list; empty = no team rows; null = all teams),
filters.<resource>.include_personal (true/false). A value starting with [ or { is JSON.
With neither --scope nor --set, $VISUAL/$EDITOR opens on a terminal; elsewhere that is exit 2.`,
    )
    .action((id: string, flags: EditFlags, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const grantId = grantIdArg(id);
        if (flags.scope !== undefined && flags.set.length > 0) throw new UsageError('pass either --scope or --set, not both');
        const allowSensitive = flags.allowSensitive === true;
        const interactive = flags.scope === undefined && flags.set.length === 0;
        if (interactive && !canPrompt(g)) {
          throw new UsageError('nothing to change: pass --scope <file|-> or --set key=value', 'the $EDITOR flow runs only on a terminal (and not with --no-input)');
        }
        const fromFile = flags.scope === undefined ? undefined : readJsonInput(flags.scope, 'the scope');
        const admin = adminClient(g, version);
        const current = await getGrantByPrefix(admin, grantId);
        if (current.status === 'revoked' || current.status === 'expired') {
          throw coded('GRANT_NOT_EDITABLE', `grant ${current.id} is ${current.status}; it can no longer be edited`, 409, 'create a new grant with `mosaic federation grant create`');
        }
        const save = (scope: unknown) => admin.updateGrant(current.id, { scope: scope as Scope, ...(allowSensitive ? { allowSensitive: true } : {}) });
        let updated: Grant | null;
        if (fromFile !== undefined) {
          const { validateScope } = await scopeTools();
          validateScope(fromFile, { allowSensitive, previous: current.scope });
          updated = await save(fromFile);
        } else if (flags.set.length > 0) {
          const { applyScopeEdits } = await scopeTools();
          updated = await save(applyScopeEdits(current.scope, flags.set, { allowSensitive, previous: current.scope }));
        } else {
          updated = await editInEditor(current, { allowSensitive, editor: editorCommand(), save });
          if (updated === null) {
            if (out.json) printResult(out, current, () => '');
            else process.stderr.write('no changes: the scope is as it was\n');
            return ExitCode.ok;
          }
        }
        const saved = updated;
        printResult(out, saved, () => renderEdited(saved, out.color));
        return ExitCode.ok;
      }),
    );
}
