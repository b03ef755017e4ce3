/**
 * The grant editor's model: a draft of the scope as a person edits it (toggles and text), the
 * scope JSON it stands for, and that JSON checked by federation-core's `checkScope` — the same
 * zod schema the gateway parses with — with each problem placed at the field it is about.
 */
import { checkScope, RESOURCES, type Resource, type Scope } from '@mosaic/federation-core';

export type ResourceState = 'off' | 'read' | 'excluded';

export interface Draft {
  resources: Record<Resource, ResourceState>;
  /** `include_teams` as typed: empty = all the subject's teams (left out), `none` = `[]`, else `t1, t2`. */
  teams: Record<Resource, string>;
  personal: Record<Resource, boolean>;
  maxRows: string;
  rateLimit: string;
  allowSensitive: boolean;
}

export type FieldKind = 'resource' | 'teams' | 'personal' | 'maxRows' | 'rateLimit' | 'sensitive';

export interface Field {
  id: string;
  kind: FieldKind;
  resource?: Resource;
}

export function draftFromScope(scope: Scope): Draft {
  const by = <T>(f: (r: Resource) => T) => Object.fromEntries(RESOURCES.map((r) => [r, f(r)])) as Record<Resource, T>;
  return {
    resources: by((r) => (scope.resources.includes(r) ? 'read' : scope.excluded_resources.includes(r) ? 'excluded' : 'off')),
    teams: by((r) => {
      const t = scope.filters[r]?.include_teams;
      return t === undefined ? '' : t.length === 0 ? 'none' : t.join(', ');
    }),
    personal: by((r) => scope.filters[r]?.include_personal ?? true),
    maxRows: String(scope.max_rows_per_query),
    rateLimit: String(scope.rate_limit_per_minute),
    allowSensitive: false,
  };
}

/** The fields shown, in order: each resource, and under a granted one its team filter and personal switch. */
export function fieldsOf(d: Draft): Field[] {
  const out: Field[] = [];
  for (const r of RESOURCES) {
    out.push({ id: `resource:${r}`, kind: 'resource', resource: r });
    if (d.resources[r] === 'read') {
      out.push({ id: `teams:${r}`, kind: 'teams', resource: r });
      out.push({ id: `personal:${r}`, kind: 'personal', resource: r });
    }
  }
  out.push({ id: 'maxRows', kind: 'maxRows' }, { id: 'rateLimit', kind: 'rateLimit' }, { id: 'sensitive', kind: 'sensitive' });
  return out;
}

function numberOrText(text: string): unknown {
  return /^\s*\d{1,9}\s*$/.test(text) ? Number(text) : text.trim() === '' ? undefined : text;
}

/** The scope JSON the draft stands for (unvalidated: `checkScope` says what is wrong with it). */
export function scopeInput(d: Draft): Record<string, unknown> {
  const resources = RESOURCES.filter((r) => d.resources[r] === 'read');
  const excluded = RESOURCES.filter((r) => d.resources[r] === 'excluded');
  const filters: Record<string, unknown> = {};
  for (const r of resources) {
    const teams = d.teams[r].trim();
    const f: Record<string, unknown> = {};
    if (teams === 'none') f.include_teams = [];
    else if (teams !== '') f.include_teams = teams.split(',').map((t) => t.trim());
    if (!d.personal[r]) f.include_personal = false;
    if (Object.keys(f).length > 0) filters[r] = f;
  }
  const out: Record<string, unknown> = { resources, excluded_resources: excluded, filters };
  const rows = numberOrText(d.maxRows);
  const rate = numberOrText(d.rateLimit);
  if (rows !== undefined) out.max_rows_per_query = rows;
  if (rate !== undefined) out.rate_limit_per_minute = rate;
  return out;
}

export interface DraftCheck {
  scope: Scope | null;
  /** Problems by field id. */
  errors: Map<string, string>;
  /** Problems no field owns. */
  general: string[];
}

/** Which field a problem's path (`filters.tasks.include_teams[0]`, `resources[1]`) is about. */
function fieldFor(path: string, input: Record<string, unknown>): string | null {
  const list = (key: string) => (Array.isArray(input[key]) ? (input[key] as string[]) : []);
  let m = /^resources\[(\d+)\]/.exec(path);
  if (m) return `resource:${list('resources')[Number(m[1])] ?? ''}`;
  m = /^excluded_resources\[(\d+)\]/.exec(path);
  if (m) return `resource:${list('excluded_resources')[Number(m[1])] ?? ''}`;
  m = /^filters\.(\w+)(\.(include_teams|include_personal))?/.exec(path);
  if (m) return m[3] === 'include_personal' ? `personal:${m[1]}` : `teams:${m[1]}`;
  if (path.startsWith('max_rows_per_query')) return 'maxRows';
  if (path.startsWith('rate_limit_per_minute')) return 'rateLimit';
  if (path === 'resources') return 'resource:tasks';
  return null;
}

/** Check the draft as the gateway will (sensitive resources already granted need no new approval). */
export function checkDraft(d: Draft, previous: Pick<Scope, 'resources'> | null): DraftCheck {
  const input = scopeInput(d);
  const check = checkScope(input, { allowSensitive: d.allowSensitive, previous });
  const errors = new Map<string, string>();
  const general: string[] = [];
  if (check.ok) return { scope: check.scope, errors, general };
  for (const p of check.problems) {
    const id = fieldFor(p.path, input);
    const message = p.path === '' ? p.message : `${p.path}: ${p.message}`;
    if (id === null) general.push(message);
    else if (!errors.has(id)) errors.set(id, message);
  }
  return { scope: null, errors, general };
}

/** Space on a field: resources cycle off → read → excluded; switches flip. */
export function toggle(d: Draft, f: Field): Draft {
  if (f.kind === 'resource' && f.resource) {
    const next: Record<ResourceState, ResourceState> = { off: 'read', read: 'excluded', excluded: 'off' };
    return { ...d, resources: { ...d.resources, [f.resource]: next[d.resources[f.resource]] } };
  }
  if (f.kind === 'personal' && f.resource) return { ...d, personal: { ...d.personal, [f.resource]: !d.personal[f.resource] } };
  if (f.kind === 'sensitive') return { ...d, allowSensitive: !d.allowSensitive };
  return d;
}

export function isTextField(f: Field): boolean {
  return f.kind === 'teams' || f.kind === 'maxRows' || f.kind === 'rateLimit';
}

export function textOf(d: Draft, f: Field): string {
  if (f.kind === 'teams' && f.resource) return d.teams[f.resource];
  if (f.kind === 'maxRows') return d.maxRows;
  if (f.kind === 'rateLimit') return d.rateLimit;
  return '';
}

export function withText(d: Draft, f: Field, text: string): Draft {
  if (f.kind === 'teams' && f.resource) return { ...d, teams: { ...d.teams, [f.resource]: text } };
  if (f.kind === 'maxRows') return { ...d, maxRows: text };
  if (f.kind === 'rateLimit') return { ...d, rateLimit: text };
  return d;
}
