/**
 * What the `grant` verbs share: grant id arguments (a full id or a unique prefix of at least 4
 * characters, as `git` takes them), durations, and the scope tools of federation-core, which are
 * loaded only by the verbs that need them (they bring zod: never at start-up).
 */
import type * as Core from '@mosaic/federation-core';
import { parseDuration } from '@mosaic/federation-core/admin-client';
import { UsageError } from '../../../output.js';

/** The grant lifecycle (CONTRACT.md), as flag choices. */
export const GRANT_STATUSES = ['pending', 'active', 'revoked', 'expired'] as const;

/** The resources known today (CONTRACT.md), as flag choices. */
export const RESOURCES = ['tasks', 'notes', 'memory', 'credentials', 'api_keys'] as const;

/** Shortest grant id prefix the gateway accepts. */
export const MIN_GRANT_PREFIX = 4;

/** A grant id or prefix as typed → lower case; a usage error (exit 2) when it cannot be one. */
export function grantIdArg(text: string): string {
  const id = text.trim().toLowerCase();
  if (!/^[0-9a-f-]+$/.test(id) || id.length < MIN_GRANT_PREFIX || id.length > 36) {
    throw new UsageError(
      `"${text.slice(0, 40)}" is not a grant id`,
      `pass a grant id or a unique prefix of at least ${MIN_GRANT_PREFIX} characters (see \`mosaic federation grant list\`)`,
    );
  }
  return id;
}

/** The short form of a grant id people read and type: its first 8 characters. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A duration flag (`90s`, `15m`, `12h`, `30d`) in milliseconds, or a usage error naming the flag. */
export function durationFlag(flag: string, text: string, example: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) throw new UsageError(`${flag}: "${text}" is not a duration`, `durations are written 90s, 15m, 12h, 30d — e.g. ${flag} ${example}`);
  return ms;
}

/** federation-core's scope tools (zod inside): imported by the verbs that validate or edit a scope, when they run. */
export async function scopeTools(): Promise<Pick<typeof Core, 'validateScope' | 'applyScopeEdits'>> {
  const core = await import('@mosaic/federation-core');
  return { validateScope: core.validateScope, applyScopeEdits: core.applyScopeEdits };
}
