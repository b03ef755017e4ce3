import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { MosaicError } from '../errors.js';
import { FEDERATION_VERBS, type RowVerb } from '../protocol/constants.js';
import {
  NOTHING_VISIBLE,
  RESOURCES,
  evaluateScope,
  explainRows,
  isNothingVisible,
  isRowVisible,
  scopeCapabilities,
  validateScope,
  visibilityToSql,
  type ScopeInput,
  type SubjectFacts,
  type Visibility,
} from './index.js';

const alice: SubjectFacts = { userId: 'alice', teamIds: ['t1', 't2'] };
const scope = (input: Partial<ScopeInput> = {}) => validateScope({ resources: ['tasks', 'notes'], max_rows_per_query: 500, ...input }, { allowSensitive: true });
const list = (resource = 'tasks', limit?: number) => ({ verb: 'list' as const, resource, limit });

describe('evaluateScope — visibility: native rights narrowed by the filter', () => {
  const cases: { name: string; input: Partial<ScopeInput>; subject?: SubjectFacts; visibility: Visibility }[] = [
    { name: 'no filter: personal rows + every team the subject is in', input: {}, visibility: { ownerUserId: 'alice', teamIds: ['t1', 't2'] } },
    { name: 'empty filter object: the same', input: { filters: { tasks: {} } }, visibility: { ownerUserId: 'alice', teamIds: ['t1', 't2'] } },
    { name: 'include_teams [t1] drops t2 though she is a member (SECURITY 18)', input: { filters: { tasks: { include_teams: ['t1'] } } }, visibility: { ownerUserId: 'alice', teamIds: ['t1'] } },
    { name: 'a listed team she is not in adds nothing (SECURITY 19)', input: { filters: { tasks: { include_teams: ['t3'] } } }, visibility: { ownerUserId: 'alice', teamIds: [] } },
    { name: 'listed teams: members kept, others ignored', input: { filters: { tasks: { include_teams: ['t3', 't2'] } } }, visibility: { ownerUserId: 'alice', teamIds: ['t2'] } },
    { name: 'include_teams [] → no team rows', input: { filters: { tasks: { include_teams: [] } } }, visibility: { ownerUserId: 'alice', teamIds: [] } },
    { name: 'include_personal false → no personal rows', input: { filters: { tasks: { include_personal: false } } }, visibility: { ownerUserId: null, teamIds: ['t1', 't2'] } },
    { name: 'both off → nothing', input: { filters: { tasks: { include_teams: [], include_personal: false } } }, visibility: NOTHING_VISIBLE },
    { name: 'a filter of another resource does not apply', input: { filters: { notes: { include_teams: [], include_personal: false } } }, visibility: { ownerUserId: 'alice', teamIds: ['t1', 't2'] } },
    { name: 'subject in no team', input: {}, subject: { userId: 'alice', teamIds: [] }, visibility: { ownerUserId: 'alice', teamIds: [] } },
    {
      name: 'subject left t2 (facts computed now): the scope listing t2 gives nothing of it',
      input: { filters: { tasks: { include_teams: ['t1', 't2'] } } },
      subject: { userId: 'alice', teamIds: ['t1'] },
      visibility: { ownerUserId: 'alice', teamIds: ['t1'] },
    },
    { name: 'duplicate and unsorted facts are normalised', input: {}, subject: { userId: 'alice', teamIds: ['t2', 't1', 't2'] }, visibility: { ownerUserId: 'alice', teamIds: ['t1', 't2'] } },
  ];
  it.each(cases)('$name', ({ input, subject, visibility }) => {
    const d = evaluateScope(scope(input), subject ?? alice, list());
    expect(d).toEqual({ allowed: true, verb: 'list', resource: 'tasks', visibility, cap: 500 });
  });
});

describe('evaluateScope — the row cap', () => {
  const cases: { name: string; max: number; verb: RowVerb; limit?: number; cap: number }[] = [
    { name: 'no limit → max_rows_per_query', max: 500, verb: 'list', cap: 500 },
    { name: 'limit below the max', max: 500, verb: 'list', limit: 10, cap: 10 },
    { name: 'limit equal to the max', max: 500, verb: 'list', limit: 500, cap: 500 },
    { name: 'limit above the max is capped (SECURITY 22)', max: 500, verb: 'list', limit: 10000, cap: 500 },
    { name: 'search: limit above the max', max: 50, verb: 'search', limit: 51, cap: 50 },
    { name: 'search: no limit', max: 50, verb: 'search', cap: 50 },
    { name: 'get reads one row', max: 500, verb: 'get', cap: 1 },
    { name: 'get ignores a larger limit', max: 500, verb: 'get', limit: 20, cap: 1 },
    { name: 'max 1', max: 1, verb: 'list', limit: 5, cap: 1 },
  ];
  it.each(cases)('$name', ({ max, verb, limit, cap }) => {
    const d = evaluateScope(scope({ max_rows_per_query: max }), alice, { verb, resource: 'tasks', limit });
    expect(d.allowed && d.cap).toBe(cap);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])('limit %s → VALIDATION_FAILED (400)', (limit) => {
    try {
      evaluateScope(scope(), alice, list('tasks', limit));
      expect.unreachable();
    } catch (err) {
      expect((err as MosaicError).code).toBe('VALIDATION_FAILED');
      expect((err as MosaicError).statusCode).toBe(400);
      expect((err as MosaicError).details).toEqual([{ path: 'limit', message: 'must be a whole number from 1 to 10000' }]);
    }
  });
});

describe('evaluateScope — resource-level denials come first, on every verb (SECURITY 20, 23)', () => {
  const s = scope({ resources: ['tasks', 'notes'], excluded_resources: ['credentials', 'api_keys'] });
  const rowVerbs: RowVerb[] = ['list', 'get', 'search'];
  const cases: { resource: string; reason: string; code: string; status: number; known: boolean }[] = [
    { resource: 'credentials', reason: 'scope.excluded', code: 'RESOURCE_DENIED', status: 403, known: true },
    { resource: 'api_keys', reason: 'scope.excluded', code: 'RESOURCE_DENIED', status: 403, known: true },
    { resource: 'memory', reason: 'scope.not_listed', code: 'RESOURCE_DENIED', status: 403, known: true },
    { resource: 'Tasks', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'TASKS', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'tasks ', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'tasks/..', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'tasks%2F..', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'calendar', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: '', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: '__proto__', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'constructor', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
    { resource: 'hasOwnProperty', reason: 'resource.unknown', code: 'RESOURCE_UNKNOWN', status: 404, known: false },
  ];
  for (const verb of rowVerbs) {
    it.each(cases)(`${verb} $resource → $reason`, ({ resource, reason, code, status, known }) => {
      const d = evaluateScope(s, alice, { verb, resource, limit: 5 });
      expect(d).toEqual({ allowed: false, verb, reason, resource: known ? resource : null, code, statusCode: status });
    });
  }

  it('denies before judging the limit (no row is touched, nothing else is evaluated)', () => {
    expect(evaluateScope(s, alice, list('credentials', -1))).toMatchObject({ allowed: false, reason: 'scope.excluded' });
  });

  it('an excluded resource is denied even if the (stored) scope also lists it', () => {
    const tampered = { ...s, resources: [...s.resources, 'credentials' as const] };
    expect(evaluateScope(tampered, alice, list('credentials'))).toMatchObject({ allowed: false, reason: 'scope.excluded' });
  });
});

describe('evaluateScope — capabilities and bad facts', () => {
  it('capabilities is allowed and reads nothing', () => {
    expect(evaluateScope(scope(), alice, { verb: 'capabilities' })).toEqual({ allowed: true, verb: 'capabilities', resource: null, visibility: NOTHING_VISIBLE, cap: 0 });
  });
  it.each([
    [{ userId: '', teamIds: [] }],
    [{ userId: 'alice', teamIds: [''] }],
    [{ userId: 7 as unknown as string, teamIds: [] }],
  ])('refuses malformed subject facts %j', (subject) => {
    expect(() => evaluateScope(scope(), subject, list())).toThrow(TypeError);
  });
});

describe('isRowVisible', () => {
  const v: Visibility = { ownerUserId: 'alice', teamIds: ['t1'] };
  it.each([
    [{ ownerUserId: 'alice', teamId: null }, true],
    [{ ownerUserId: 'bob', teamId: null }, false],
    [{ ownerUserId: null, teamId: 't1' }, true],
    [{ ownerUserId: null, teamId: 't2' }, false],
    [{ ownerUserId: null, teamId: null }, false],
    [{}, false],
    [{ teamId: 't1' }, true],
    [{ ownerUserId: 'ALICE', teamId: null }, false],
  ])('%j → %s', (row, expected) => {
    expect(isRowVisible(v, row)).toBe(expected);
  });
  it('nothing is visible under NOTHING_VISIBLE', () => {
    expect(isNothingVisible(NOTHING_VISIBLE)).toBe(true);
    expect(isNothingVisible(v)).toBe(false);
    expect(isRowVisible(NOTHING_VISIBLE, { ownerUserId: 'alice', teamId: 't1' })).toBe(false);
  });
});

describe('visibilityToSql', () => {
  it.each([
    [{ ownerUserId: 'alice', teamIds: ['t1', 't2'] }, '(owner_user_id = ? OR team_id IN (?, ?))', ['alice', 't1', 't2']],
    [{ ownerUserId: 'alice', teamIds: [] }, '(owner_user_id = ?)', ['alice']],
    [{ ownerUserId: null, teamIds: ['t1'] }, '(team_id IN (?))', ['t1']],
    [NOTHING_VISIBLE, '(1 = 0)', []],
  ])('%j', (v, sql, params) => {
    expect(visibilityToSql(v)).toEqual({ sql, params });
  });
  it('numbers placeholders and renames columns (PostgreSQL style)', () => {
    expect(visibilityToSql({ ownerUserId: 'a', teamIds: ['x', 'y'] }, { ownerColumn: 'r.owner', teamColumn: 'r.team', placeholder: (n) => `$${n + 2}` })).toEqual({
      sql: '(r.owner = $3 OR r.team IN ($4, $5))',
      params: ['a', 'x', 'y'],
    });
  });
  it.each(['owner; DROP TABLE x', 'a b', '1col', 'a.b.c', ''])('refuses the column name %j', (col) => {
    expect(() => visibilityToSql(NOTHING_VISIBLE, { ownerColumn: col })).toThrow(TypeError);
  });
  it('never puts a value into the SQL text', () => {
    const { sql } = visibilityToSql({ ownerUserId: "x' OR 1=1 --", teamIds: ["'); DROP"] });
    expect(sql).toBe('(owner_user_id = ? OR team_id IN (?))');
  });
});

describe('scopeCapabilities', () => {
  it('reports the grant’s scope and every verb', () => {
    expect(scopeCapabilities(scope({ excluded_resources: ['credentials'], rate_limit_per_minute: 30 }), 'work')).toEqual({
      server: 'work',
      resources: ['tasks', 'notes'],
      excluded_resources: ['credentials'],
      max_rows_per_query: 500,
      supported_verbs: [...FEDERATION_VERBS],
      rate_limit_per_minute: 30,
    });
  });
});

// ── properties: explainer, predicate and SQL always agree; a scope never widens ────────────

const USERS = ['u1', 'u2', 'u3'];
const TEAMS = ['t1', 't2', 't3', 't4'];

const subjectArb = fc.record({ userId: fc.constantFrom(...USERS), teamIds: fc.array(fc.constantFrom(...TEAMS), { maxLength: 5 }) });
const filterArb = fc.record(
  { include_teams: fc.array(fc.constantFrom(...TEAMS, 't9'), { maxLength: 4 }).map((a) => [...new Set(a)]), include_personal: fc.boolean() },
  { requiredKeys: [] },
);
const scopeArb = fc
  .record({
    resources: fc.uniqueArray(fc.constantFrom(...RESOURCES), { minLength: 1, maxLength: 5 }),
    excluded: fc.uniqueArray(fc.constantFrom(...RESOURCES), { maxLength: 5 }),
    filters: fc.dictionary(fc.constantFrom(...RESOURCES), filterArb, { maxKeys: 5 }),
    max: fc.integer({ min: 1, max: 12 }),
  })
  .map(({ resources, excluded, filters, max }) =>
    validateScope(
      {
        resources,
        excluded_resources: excluded.filter((r) => !resources.includes(r)),
        filters: Object.fromEntries(Object.entries(filters).filter(([r]) => (resources as string[]).includes(r))),
        max_rows_per_query: max,
      },
      { allowSensitive: true },
    ),
  );
// Rows include malformed ones (both or neither owner/team): the three views must agree on those too.
const rowsArb = fc
  .array(fc.record({ ownerUserId: fc.option(fc.constantFrom(...USERS)), teamId: fc.option(fc.constantFrom(...TEAMS)) }), { maxLength: 25 })
  .map((rows) => rows.map((r, i) => ({ id: `r${i}`, title: `row ${i}`, ...r })));
const requestArb = fc.record({
  resource: fc.constantFrom<string>(...RESOURCES, 'Tasks', 'calendar'),
  limit: fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }),
});

describe('properties', () => {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE rows (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, owner_user_id TEXT, team_id TEXT)');
  afterAll(() => db.close());

  it('explainer, predicate and SQL condition agree; included rows are always natively visible', () => {
    fc.assert(
      fc.property(scopeArb, subjectArb, requestArb, rowsArb, (s, subject, request, rows) => {
        const { decision, rows: explained } = explainRows(s, subject, request, rows);
        const nativeTeams = new Set(subject.teamIds);
        const natively = (r: (typeof rows)[number]) => r.ownerUserId === subject.userId || (r.teamId !== null && nativeTeams.has(r.teamId));

        // Never wider than native rights.
        explained.forEach((e, i) => {
          if (e.included) expect(natively(rows[i]!)).toBe(true);
        });

        if (!decision.allowed) {
          expect(explained.every((e) => !e.included && (e.rule === 'scope.excluded' || e.rule === 'scope.not_listed'))).toBe(true);
          return;
        }
        // The visibility itself only narrows the subject's facts.
        expect(decision.visibility.ownerUserId === null || decision.visibility.ownerUserId === subject.userId).toBe(true);
        expect(decision.visibility.teamIds.every((t) => nativeTeams.has(t))).toBe(true);

        // Predicate ⇔ SQL condition, evaluated by a real SQL engine.
        db.exec('DELETE FROM rows');
        const insert = db.prepare('INSERT INTO rows (seq, id, owner_user_id, team_id) VALUES (?, ?, ?, ?)');
        rows.forEach((r, i) => insert.run(i, r.id, r.ownerUserId, r.teamId));
        const { sql, params } = visibilityToSql(decision.visibility);
        const viaSql = db.prepare(`SELECT id FROM rows WHERE ${sql} ORDER BY seq`).all(...params).map((r) => r.id);
        const viaPredicate = rows.filter((r) => isRowVisible(decision.visibility, r)).map((r) => r.id);
        expect(viaSql).toEqual(viaPredicate);

        // Explainer ⇔ predicate + cap: `ok` rows are exactly what one capped query returns.
        const capped = db.prepare(`SELECT id FROM rows WHERE ${sql} ORDER BY seq LIMIT ?`).all(...params, decision.cap).map((r) => r.id);
        expect(explained.filter((e) => e.included).map((e) => e.id)).toEqual(capped);
        explained.forEach((e, i) => {
          const visible = isRowVisible(decision.visibility, rows[i]!);
          expect(e.rule === 'ok' || e.rule === 'cap').toBe(visible);
          if (e.rule === 'rbac') expect(natively(rows[i]!)).toBe(false);
          if (e.rule === 'filter.team' || e.rule === 'filter.personal') expect(natively(rows[i]!)).toBe(true);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('a scope never shows more than the same scope without filters', () => {
    fc.assert(
      fc.property(scopeArb, subjectArb, rowsArb, (s, subject, rows) => {
        const resource = s.resources[0]!;
        const filtered = evaluateScope(s, subject, { verb: 'list', resource });
        const unfiltered = evaluateScope({ ...s, filters: {} }, subject, { verb: 'list', resource });
        if (!filtered.allowed || !unfiltered.allowed) return;
        for (const r of rows) {
          if (isRowVisible(filtered.visibility, r)) expect(isRowVisible(unfiltered.visibility, r)).toBe(true);
        }
      }),
    );
  });
});
