/**
 * What the `grant` verbs share: grant id arguments (a full id or a unique prefix of at least 4
 * characters, as `git` takes them), durations, and the scope tools of federation-core, which are
 * loaded only by the verbs that need them (they bring zod: never at start-up).
 */
import type * as Core from '@mosaic/federation-core';
import { parseDuration, type AdminClient } from '@mosaic/federation-core/admin-client';
import { displayed } from '../../../render/text.js';
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

/** Candidates named in a GRANT_ID_AMBIGUOUS error at most. */
const MAX_CANDIDATES = 10;

/**
 * `GET /api/admin/grants/:id` for an id or prefix. The gateway answers an ambiguous prefix with
 * 400 GRANT_ID_AMBIGUOUS and names nothing; this lists the grants the prefix matches (from the
 * grant list this admin may read anyway) so the person can pick one, as `git` does. Still exit 2.
 */
export async function getGrantByPrefix(admin: AdminClient, idOrPrefix: string): Promise<Core.Grant> {
  try {
    return await admin.getGrant(idOrPrefix);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'GRANT_ID_AMBIGUOUS') throw err;
    const prefix = idOrPrefix.toLowerCase();
    // the list failing leaves the gateway's own answer, which is still right
    const matches = await admin.listGrants().then(
      (list) => list.items.filter((g) => g.id.startsWith(prefix)).sort((x, y) => (x.id < y.id ? -1 : 1)),
      () => [] as Core.Grant[],
    );
    if (matches.length < 2) throw err;
    const named = matches
      .slice(0, MAX_CANDIDATES)
      .map((g) => `  ${g.id}  ${displayed(g.subjectUserId)} → ${displayed(g.peerName)}, ${g.status}`)
      .join('\n');
    const more = matches.length > MAX_CANDIDATES ? `\n  … and ${matches.length - MAX_CANDIDATES} more` : '';
    const example = matches[0]!.id.slice(0, Math.max(8, prefix.length + 1));
    throw Object.assign(new Error(`the grant id prefix "${prefix}" matches ${matches.length} grants:\n${named}${more}`), {
      code: 'GRANT_ID_AMBIGUOUS',
      status: 400,
      remediation: `give more characters of the grant id, e.g. ${example}`,
    });
  }
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
