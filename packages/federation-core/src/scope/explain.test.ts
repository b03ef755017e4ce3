import { describe, expect, it } from 'vitest';
import { EXPLAIN_RULES, explainRows, validateScope, type ExplainRule, type ScopeInput, type SubjectFacts } from './index.js';

const alice: SubjectFacts = { userId: 'alice', teamIds: ['t1', 't2'] };

// One row of each kind the pipeline distinguishes.
const rows = [
  { id: 'mine', title: 'alice personal', ownerUserId: 'alice', teamId: null },
  { id: 'bobs', title: 'bob personal', ownerUserId: 'bob', teamId: null },
  { id: 't1', title: 'team 1', ownerUserId: null, teamId: 't1' },
  { id: 't2', title: 'team 2', ownerUserId: null, teamId: 't2' },
  { id: 't3', title: 'team 3 (not a member)', ownerUserId: null, teamId: 't3' },
  { id: 'orphan', title: 'no owner, no team', ownerUserId: null, teamId: null },
];
type Verdicts = Record<string, ExplainRule>;

const scopeOf = (input: Partial<ScopeInput>) =>
  validateScope({ resources: ['tasks'], excluded_resources: ['credentials'], max_rows_per_query: 100, ...input }, { allowSensitive: true });

describe('explainRows — the first rule that excludes a row, in pipeline order', () => {
  const cases: { name: string; scope: Partial<ScopeInput>; resource?: string; limit?: number; subject?: SubjectFacts; verdicts: Verdicts }[] = [
    {
      name: 'no filter: personal + member teams ok, the rest rbac',
      scope: {},
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'ok', t2: 'ok', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'include_teams [t1]: t2 is filter.team though she is a member',
      scope: { filters: { tasks: { include_teams: ['t1'] } } },
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'ok', t2: 'filter.team', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'include_teams [t3]: not a member → rbac decides first, nothing added',
      scope: { filters: { tasks: { include_teams: ['t3'] } } },
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'filter.team', t2: 'filter.team', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'include_teams []: every team row is filter.team',
      scope: { filters: { tasks: { include_teams: [] } } },
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'filter.team', t2: 'filter.team', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'include_personal false: her own row is filter.personal, bob’s stays rbac',
      scope: { filters: { tasks: { include_personal: false } } },
      verdicts: { mine: 'filter.personal', bobs: 'rbac', t1: 'ok', t2: 'ok', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'cap: visible rows past max_rows_per_query are cap, counted in input order',
      scope: { max_rows_per_query: 2 },
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'ok', t2: 'cap', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'cap: a requested limit below the max',
      scope: {},
      limit: 1,
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'cap', t2: 'cap', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'cap: a requested limit above the max is capped',
      scope: { max_rows_per_query: 1 },
      limit: 50,
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'cap', t2: 'cap', t3: 'rbac', orphan: 'rbac' },
    },
    {
      name: 'excluded resource: every row scope.excluded',
      scope: {},
      resource: 'credentials',
      verdicts: { mine: 'scope.excluded', bobs: 'scope.excluded', t1: 'scope.excluded', t2: 'scope.excluded', t3: 'scope.excluded', orphan: 'scope.excluded' },
    },
    {
      name: 'resource not listed: every row scope.not_listed',
      scope: {},
      resource: 'notes',
      verdicts: { mine: 'scope.not_listed', bobs: 'scope.not_listed', t1: 'scope.not_listed', t2: 'scope.not_listed', t3: 'scope.not_listed', orphan: 'scope.not_listed' },
    },
    {
      name: 'unknown resource name (case games): scope.not_listed',
      scope: {},
      resource: 'Tasks',
      verdicts: { mine: 'scope.not_listed', bobs: 'scope.not_listed', t1: 'scope.not_listed', t2: 'scope.not_listed', t3: 'scope.not_listed', orphan: 'scope.not_listed' },
    },
    {
      name: 'she left t2: its rows turn rbac at once',
      scope: { filters: { tasks: { include_teams: ['t1', 't2'] } } },
      subject: { userId: 'alice', teamIds: ['t1'] },
      verdicts: { mine: 'ok', bobs: 'rbac', t1: 'ok', t2: 'rbac', t3: 'rbac', orphan: 'rbac' },
    },
  ];
  it.each(cases)('$name', ({ scope, resource, limit, subject, verdicts }) => {
    const { rows: out } = explainRows(scopeOf(scope), subject ?? alice, { resource: resource ?? 'tasks', limit }, rows);
    expect(Object.fromEntries(out.map((r) => [r.id, r.rule]))).toEqual(verdicts);
    for (const r of out) {
      expect(r.included).toBe(r.rule === 'ok');
      expect(r.title).toBe(rows.find((c) => c.id === r.id)?.title);
    }
  });

  it('keeps the input order and returns the decision', () => {
    const { decision, rows: out } = explainRows(scopeOf({}), alice, { resource: 'tasks' }, [...rows].reverse());
    expect(out.map((r) => r.id)).toEqual([...rows].reverse().map((r) => r.id));
    expect(decision).toMatchObject({ allowed: true, cap: 100 });
  });

  it('a row both personal and team (malformed) is judged like the SQL condition would', () => {
    const odd = [{ id: 'both', title: 'x', ownerUserId: 'alice', teamId: 't2' }];
    expect(explainRows(scopeOf({ filters: { tasks: { include_personal: false } } }), alice, { resource: 'tasks' }, odd).rows[0]?.rule).toBe('ok');
    expect(explainRows(scopeOf({ filters: { tasks: { include_personal: false, include_teams: ['t1'] } } }), alice, { resource: 'tasks' }, odd).rows[0]?.rule).toBe(
      'filter.team',
    );
    expect(explainRows(scopeOf({ filters: { tasks: { include_personal: false } } }), { userId: 'alice', teamIds: [] }, { resource: 'tasks' }, odd).rows[0]?.rule).toBe(
      'filter.personal',
    );
  });

  it('uses the cap of the verb asked for (get reads one row)', () => {
    const { rows: out } = explainRows(scopeOf({}), alice, { resource: 'tasks', verb: 'get' }, rows);
    expect(out.filter((r) => r.included)).toHaveLength(1);
  });

  it('lists its rules in pipeline order', () => {
    expect(EXPLAIN_RULES).toEqual(['scope.excluded', 'scope.not_listed', 'rbac', 'filter.team', 'filter.personal', 'cap', 'ok']);
  });
});
