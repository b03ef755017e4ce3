/**
 * How grants look on a terminal: the 80-column list, one grant in full, the enrollment hand-off
 * of `grant token` (UX.md), the row-by-row explanation. Pure functions of their input and `now`;
 * every value that came from the gateway goes through `displayed`/`fit` (no control characters
 * reach the terminal). Colour only when the caller says so.
 */
import type { ExplainResponse, Grant, GrantStatus, Scope, TokenResponse } from '@mosaic/federation-core';
import { paint, type Style } from '../../../output.js';
import { displayed, keyValues, plural, relativeWhen, renderTable, shortTime, type Column } from '../../../render/text.js';
import { shortId } from './shared.js';

const STATUS_STYLE: Record<GrantStatus, Style> = { active: 'green', pending: 'yellow', revoked: 'red', expired: 'dim' };

/** Style of a grant status (unknown values dim). */
export function statusStyle(status: string): Style {
  return STATUS_STYLE[status as GrantStatus] ?? 'dim';
}

/** `tasks,notes` — the resources a scope grants. */
export function scopeResources(scope: Pick<Scope, 'resources'>): string {
  return scope.resources.join(',');
}

function teamsOf(filter: NonNullable<Scope['filters'][keyof Scope['filters']]>): string {
  const teams = filter.include_teams === undefined ? 'all teams' : filter.include_teams.length === 0 ? 'no teams' : `teams ${filter.include_teams.join(', ')}`;
  return `${teams}; ${filter.include_personal === false ? 'no personal rows' : 'personal rows'}`;
}

/** One line for people: `tasks (teams t-eng; personal rows), notes · max 500 rows · 60 req/min`. */
export function describeScope(scope: Scope): string {
  const parts = scope.resources.map((r) => {
    const f = scope.filters[r];
    return f === undefined ? r : `${r} (${teamsOf(f)})`;
  });
  return displayed(`${parts.join(', ')} · max ${scope.max_rows_per_query} rows · ${scope.rate_limit_per_minute} req/min`);
}

/** `expires` column text: relative expiry while the grant can still be used, else `—`. */
function expiresCell(g: Grant, now: number): string {
  if (g.status === 'revoked') return '—';
  return relativeWhen(g.expiresAt, now);
}

/** The columns of `grant list` (78 columns with the separators). */
export function grantColumns(now: number): Column<Grant>[] {
  return [
    { title: 'ID', width: 9, cell: (g) => `${shortId(g.id)}…` },
    { title: 'STATUS', width: 8, cell: (g) => g.status, style: (g) => statusStyle(g.status) },
    { title: 'SUBJECT', width: 10, cell: (g) => g.subjectUserId },
    { title: 'PEER', width: 10, cell: (g) => g.peerName },
    { title: 'RESOURCES', width: 17, cell: (g) => scopeResources(g.scope) },
    { title: 'RATE', width: 8, cell: (g) => `${g.scope.rate_limit_per_minute}/min` },
    { title: 'EXPIRES', width: 9, cell: (g) => expiresCell(g, now) },
  ];
}

/** `grant list` for a person. */
export function renderGrantTable(grants: readonly Grant[], options: { now: number; color: boolean }): string {
  return renderTable(grantColumns(options.now), grants, options.color);
}

function when(at: string | null, now: number): string {
  return at === null ? '—' : `${displayed(shortTime(at))} (${relativeWhen(at, now)})`;
}

/** `grant show` for a person: the grant, then its scope field by field. */
export function renderGrant(g: Grant, options: { now: number; color: boolean }): string {
  const { now, color } = options;
  const head = `${paint(color, 'bold', `Grant ${g.id}`)}  ${paint(color, statusStyle(g.status), g.status)}`;
  const pairs: Array<[string, string]> = [
    ['subject', displayed(g.subjectUserId)],
    ['peer', displayed(g.peerName)],
    ['created', when(g.createdAt, now)],
  ];
  if (g.activatedAt !== null) pairs.push(['activated', when(g.activatedAt, now)]);
  pairs.push(['expires', g.expiresAt === null ? 'never' : when(g.expiresAt, now)]);
  if (g.certSerial !== null) pairs.push(['certificate', `serial ${displayed(g.certSerial)}${g.certNotAfter === null ? '' : `, expires ${relativeWhen(g.certNotAfter, now)}`}`]);
  if (g.revokedAt !== null) pairs.push(['revoked', `${when(g.revokedAt, now)}${g.revokeReason ? ` — ${displayed(g.revokeReason)}` : ''}`]);
  const s = g.scope;
  const scope: Array<[string, string]> = [['resources', displayed(s.resources.join(', '))]];
  if (s.excluded_resources.length > 0) scope.push(['excluded', displayed(s.excluded_resources.join(', '))]);
  for (const r of s.resources) {
    const f = s.filters[r];
    if (f !== undefined) scope.push([`filter ${r}`, displayed(teamsOf(f))]);
  }
  scope.push(['max rows', `${s.max_rows_per_query} per query`], ['rate limit', `${s.rate_limit_per_minute} requests per minute`]);
  const lines = [head, keyValues(pairs, { color }), paint(color, 'bold', 'Scope'), keyValues(scope, { color })];
  if (g.status === 'pending') lines.push('', `next: mosaic federation grant token ${shortId(g.id)}   (then send the \`peer add\` line to the admin of "${displayed(g.peerName)}")`);
  return lines.join('\n');
}

/** After `grant create`: what was made and what to do next. */
export function renderCreated(g: Grant, options: { now: number; color: boolean }): string {
  return [
    `${paint(options.color, 'green', '✔')} created grant ${g.id} (${displayed(g.subjectUserId)} → ${displayed(g.peerName)}), ${g.status}`,
    keyValues(
      [
        ['may read', describeScope(g.scope)],
        ['expires', g.expiresAt === null ? 'never' : when(g.expiresAt, options.now)],
      ],
      { color: options.color },
    ),
    `next: mosaic federation grant token ${shortId(g.id)}   (then send the \`peer add\` line to the admin of "${displayed(g.peerName)}")`,
  ].join('\n');
}

/** After `grant edit`. */
export function renderEdited(g: Grant, color: boolean): string {
  return `${paint(color, 'green', '✔')} grant ${shortId(g.id)}… (${displayed(g.subjectUserId)} → ${displayed(g.peerName)}) now lets the peer read ${describeScope(g.scope)}\n  in effect from the peer's next request`;
}

/** After `grant revoke`. */
export function renderRevoked(g: Grant, already: boolean, color: boolean): string {
  if (already) return `grant ${shortId(g.id)}… (${displayed(g.subjectUserId)} → ${displayed(g.peerName)}) was already revoked${g.revokedAt ? ` (${displayed(shortTime(g.revokedAt))})` : ''}`;
  const what = g.certSerial === null ? 'its unused enrollment tokens are cancelled' : 'its certificate is revoked and its open connections closed';
  return `${paint(color, 'green', '✔')} revoked grant ${shortId(g.id)}… (${displayed(g.subjectUserId)} → ${displayed(g.peerName)}): ${what}`;
}

/** A CA pin's hex digits in groups of four, eight groups a line: easy to read aloud and compare. */
export function groupedPin(pin: string): string[] {
  const hex = pin.replace(/^sha256:/i, '').toLowerCase();
  const groups = hex.match(/.{1,4}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += 8) lines.push(groups.slice(i, i + 8).join(' '));
  return lines;
}

function clock(at: string): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** `grant token` for a person (UX.md): the hand-off to the other side's admin. */
export function renderToken(t: TokenResponse, g: Grant, options: { now: number; color: boolean; reenroll: boolean }): string {
  const minutes = Math.max(1, Math.round((Date.parse(t.expiresAt) - options.now) / 60_000));
  const peer = displayed(g.peerName);
  const what = options.reenroll ? 'Re-enrollment token' : 'Enrollment token';
  const lines = [
    `${what} for grant ${shortId(g.id)}… (${displayed(g.subjectUserId)} → ${peer}), valid until ${clock(t.expiresAt)} (${plural(minutes, 'min', 'min')}), single use.`,
  ];
  if (options.reenroll) lines.push(`Redeeming it replaces the peer's certificate: every earlier serial of this grant is revoked.`);
  lines.push(
    '',
    `Send this to the admin of "${peer}":`,
    '',
    `  mosaic federation peer add \\`,
    `    ${displayed(t.enrollmentUrl)} \\`,
    `    --ca-pin ${displayed(t.caPin)}`,
    '',
    'CA pin, to confirm with them over a second channel (phone, chat):',
    ...groupedPin(displayed(t.caPin)).map((l) => `  ${paint(options.color, 'bold', l)}`),
    '',
    'Or pipe the URL, to keep the token out of shell history:',
    `  … | mosaic federation peer add - --ca-pin ${displayed(t.caPin)}`,
    `Expires ${displayed(shortTime(t.expiresAt))}.`,
  );
  return lines.join('\n');
}

/** Why a rule admits or hides a row, in words. */
export function ruleMeaning(rule: string, ctx: { resource: string; subject: string; maxRows: number }): string {
  switch (rule) {
    case 'ok':
      return `visible: in the scope, and ${ctx.subject} may read it`;
    case 'scope.excluded':
      return `${ctx.resource} is in the scope's excluded_resources`;
    case 'scope.not_listed':
      return `${ctx.resource} is not in the scope's resources`;
    case 'rbac':
      return `${ctx.subject} cannot read it here (not theirs, not one of their teams')`;
    case 'filter.team':
      return `a team row outside filters.${ctx.resource}.include_teams`;
    case 'filter.personal':
      return `a personal row, and filters.${ctx.resource}.include_personal is false`;
    case 'cap':
      return `beyond max_rows_per_query (${ctx.maxRows}) of one answer`;
    default:
      return rule;
  }
}

/** `grant explain` for a person: a summary, the rows, and what each rule that appears means. */
export function renderExplain(e: ExplainResponse, g: Grant, color: boolean): string {
  const resource = displayed(e.resource);
  const ctx = { resource, subject: displayed(g.subjectUserId), maxRows: g.scope.max_rows_per_query };
  const seen = e.rows.filter((r) => r.included).length;
  const head = `What "${displayed(g.peerName)}" would see of ${resource} through grant ${shortId(g.id)}… (reading as ${ctx.subject}): ${seen} of ${plural(e.rows.length, 'row')}`;
  if (e.rows.length === 0) {
    const why = g.scope.excluded_resources.includes(e.resource as never)
      ? `${resource} is in the scope's excluded_resources: the peer sees none of it (scope.excluded)`
      : !g.scope.resources.includes(e.resource as never)
        ? `${resource} is not in the scope's resources: the peer sees none of it (scope.not_listed)`
        : `there are no ${resource} rows on this gateway`;
    return `${head}\n${why}`;
  }
  const columns: Column<ExplainResponse['rows'][number]>[] = [
    { title: 'ID', width: 16, cell: (r) => r.id },
    { title: 'TITLE', width: 34, cell: (r) => r.title },
    { title: 'SEEN', width: 4, cell: (r) => (r.included ? 'yes' : 'no'), style: (r) => (r.included ? 'green' : 'red') },
    { title: 'RULE', width: 16, cell: (r) => r.rule },
  ];
  const rules = [...new Set(e.rows.map((r) => r.rule))];
  return [head, '', renderTable(columns, e.rows, color), '', ...rules.map((r) => `  ${paint(color, 'dim', r.padEnd(16))} ${ruleMeaning(r, ctx)}`)].join('\n');
}
