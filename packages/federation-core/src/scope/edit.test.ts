import { describe, expect, it } from 'vitest';
import type { MosaicError } from '../errors.js';
import { applyScopeEdits, parseScopeEdit, validateScope, type Scope } from './index.js';

const base: Scope = validateScope({
  resources: ['tasks', 'notes'],
  filters: { tasks: { include_teams: ['t-eng'], include_personal: true } },
  max_rows_per_query: 500,
});

describe('applyScopeEdits — accepted edits', () => {
  const cases: { name: string; edits: string[]; expect: Partial<Scope> }[] = [
    { name: 'max rows', edits: ['max_rows_per_query=100'], expect: { max_rows_per_query: 100 } },
    { name: 'max rows back to the default', edits: ['max_rows_per_query=null'], expect: { max_rows_per_query: 100 } },
    { name: 'rate limit', edits: ['rate_limit_per_minute=600'], expect: { rate_limit_per_minute: 600 } },
    { name: 'rate limit back to the default', edits: ['rate_limit_per_minute=600', 'rate_limit_per_minute=null'], expect: { rate_limit_per_minute: 60 } },
    { name: 'resources (spaces trimmed)', edits: ['resources=tasks, notes ,memory'], expect: { resources: ['tasks', 'notes', 'memory'] } },
    { name: 'resources as JSON', edits: ['resources=["memory","tasks"]'], expect: { resources: ['memory', 'tasks'] } },
    { name: 'excluded resources', edits: ['excluded_resources=credentials,api_keys'], expect: { excluded_resources: ['credentials', 'api_keys'] } },
    { name: 'excluded resources emptied', edits: ['excluded_resources=credentials', 'excluded_resources='], expect: { excluded_resources: [] } },
    {
      name: 'include_teams list',
      edits: ['filters.tasks.include_teams=t1,t2'],
      expect: { filters: { tasks: { include_teams: ['t1', 't2'], include_personal: true } } },
    },
    {
      name: 'include_teams empty → no team rows',
      edits: ['filters.tasks.include_teams='],
      expect: { filters: { tasks: { include_teams: [], include_personal: true } } },
    },
    {
      name: 'include_teams null → all the subject’s teams',
      edits: ['filters.tasks.include_teams=null'],
      expect: { filters: { tasks: { include_personal: true } } },
    },
    {
      name: 'include_teams JSON: a team named null, a comma in an id',
      edits: ['filters.tasks.include_teams=["null","a,b"]'],
      expect: { filters: { tasks: { include_teams: ['null', 'a,b'], include_personal: true } } },
    },
    {
      name: 'include_personal false (case-insensitive)',
      edits: ['filters.tasks.include_personal=FALSE'],
      expect: { filters: { tasks: { include_teams: ['t-eng'], include_personal: false } } },
    },
    {
      name: 'include_personal null → default true',
      edits: ['filters.tasks.include_personal=false', 'filters.tasks.include_personal=null'],
      expect: { filters: { tasks: { include_teams: ['t-eng'], include_personal: true } } },
    },
    {
      name: 'a filter created for a resource without one',
      edits: ['filters.notes.include_personal=false'],
      expect: { filters: { tasks: { include_teams: ['t-eng'], include_personal: true }, notes: { include_personal: false } } },
    },
    { name: 'a filter removed', edits: ['filters.tasks=null'], expect: { filters: {} } },
    {
      name: 'a filter set as JSON',
      edits: ['filters.notes={"include_teams":[]}'],
      expect: { filters: { tasks: { include_teams: ['t-eng'], include_personal: true }, notes: { include_teams: [], include_personal: true } } },
    },
    {
      name: 'dropping a resource together with its filter',
      edits: ['resources=notes', 'filters.tasks=null'],
      expect: { resources: ['notes'], filters: {} },
    },
    { name: 'no edits: the current scope, normalised', edits: [], expect: {} },
  ];
  it.each(cases)('$name', ({ edits, expect: changes }) => {
    const before = structuredClone(base);
    const next = applyScopeEdits(base, edits);
    expect(next).toEqual({ ...base, ...changes });
    expect(base).toEqual(before); // the stored scope is never modified
  });

  it('accepts a filters object when the scope has none yet', () => {
    const next = applyScopeEdits({ resources: ['tasks'] }, ['filters.tasks.include_teams=a']);
    expect(next.filters).toEqual({ tasks: { include_teams: ['a'], include_personal: true } });
  });
});

describe('applyScopeEdits — refused edits say what is wrong', () => {
  const cases: { name: string; edits: string[]; code: string; problems: { path: string; message: RegExp }[] }[] = [
    { name: 'no =', edits: ['max_rows_per_query'], code: 'SCOPE_INVALID', problems: [{ path: 'max_rows_per_query', message: /expected key=value/ }] },
    { name: 'unknown key', edits: ['max_rows=5'], code: 'SCOPE_INVALID', problems: [{ path: 'max_rows', message: /unknown key; --set accepts: resources, .*filters.<resource>.include_personal/ }] },
    { name: 'a filter field that does not exist', edits: ['filters.tasks.include_team=a'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.tasks.include_team', message: /unknown key/ }] },
    { name: 'too deep', edits: ['filters.tasks.include_teams.x=a'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.tasks.include_teams.x', message: /unknown key/ }] },
    { name: 'filters alone', edits: ['filters=null'], code: 'SCOPE_INVALID', problems: [{ path: 'filters', message: /unknown key/ }] },
    { name: 'filter for an unknown resource', edits: ['filters.Tasks.include_personal=false'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.Tasks.include_personal', message: /"Tasks" is not a known resource — did you mean "tasks"\?/ }] },
    { name: 'prototype games', edits: ['filters.__proto__.include_personal=false'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.__proto__.include_personal', message: /not a known resource/ }] },
    { name: 'a number that is not', edits: ['max_rows_per_query=ten'], code: 'SCOPE_INVALID', problems: [{ path: 'max_rows_per_query', message: /expected a whole number/ }] },
    { name: 'a negative number', edits: ['rate_limit_per_minute=-1'], code: 'SCOPE_INVALID', problems: [{ path: 'rate_limit_per_minute', message: /expected a whole number/ }] },
    { name: 'a boolean that is not', edits: ['filters.tasks.include_personal=nope'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.tasks.include_personal', message: /expected true or false/ }] },
    { name: 'a filter value that is neither null nor JSON', edits: ['filters.tasks=yes'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.tasks', message: /expected null .* or a JSON object/ }] },
    { name: 'broken JSON', edits: ['resources=["tasks"'], code: 'SCOPE_INVALID', problems: [{ path: 'resources', message: /not valid JSON/ }] },
    {
      name: 'every malformed edit at once',
      edits: ['max_rows_per_query=x', 'nope=1', 'filters.tasks.include_personal=maybe'],
      code: 'SCOPE_INVALID',
      problems: [
        { path: 'max_rows_per_query', message: /whole number/ },
        { path: 'nope', message: /unknown key/ },
        { path: 'filters.tasks.include_personal', message: /true or false/ },
      ],
    },
    // well-formed edits, invalid result: the scope's own validation speaks
    { name: 'out of range', edits: ['max_rows_per_query=20000'], code: 'SCOPE_INVALID', problems: [{ path: 'max_rows_per_query', message: /at most 10000/ }] },
    {
      name: 'no resources left (and the tasks filter now dangles)',
      edits: ['resources='],
      code: 'SCOPE_INVALID',
      problems: [
        { path: 'resources', message: /at least one resource/ },
        { path: 'filters.tasks', message: /not in resources/ },
      ],
    },
    { name: 'unknown resource', edits: ['resources=tasks,Notes'], code: 'SCOPE_INVALID', problems: [{ path: 'resources[1]', message: /did you mean "notes"/ }] },
    {
      name: 'dropping a resource but not its filter',
      edits: ['resources=notes'],
      code: 'SCOPE_INVALID',
      problems: [{ path: 'filters.tasks', message: /applies to "tasks", which is not in resources; add "tasks" to resources or remove this filter/ }],
    },
    { name: 'excluding a granted resource', edits: ['excluded_resources=notes'], code: 'SCOPE_INVALID', problems: [{ path: 'excluded_resources[0]', message: /also in resources/ }] },
    { name: 'empty team id', edits: ['filters.tasks.include_teams=a,,b'], code: 'SCOPE_INVALID', problems: [{ path: 'filters.tasks.include_teams[1]', message: /must not be empty/ }] },
    { name: 'adding a sensitive resource without the flag', edits: ['resources=tasks,notes,credentials'], code: 'SCOPE_SENSITIVE', problems: [{ path: 'resources[2]', message: /--allow-sensitive/ }] },
  ];
  it.each(cases)('$name', ({ edits, code, problems }) => {
    let thrown: MosaicError | undefined;
    try {
      applyScopeEdits(base, edits);
    } catch (err) {
      thrown = err as MosaicError;
    }
    expect(thrown?.code).toBe(code);
    expect(thrown?.statusCode).toBe(400);
    const details = thrown?.details as { path: string; message: string }[];
    expect(details).toHaveLength(problems.length);
    problems.forEach((p, i) => {
      expect(details[i]?.path).toBe(p.path);
      expect(details[i]?.message).toMatch(p.message);
    });
  });

  it('adds a sensitive resource with the flag, and keeps an approved one on a later edit without it', () => {
    const withCreds = applyScopeEdits(base, ['resources=tasks,notes,credentials'], { allowSensitive: true });
    expect(withCreds.resources).toContain('credentials');
    const edited = applyScopeEdits(withCreds, ['max_rows_per_query=10'], { previous: withCreds });
    expect(edited.max_rows_per_query).toBe(10);
    expect(() => applyScopeEdits(withCreds, ['max_rows_per_query=10'])).toThrow(expect.objectContaining({ code: 'SCOPE_SENSITIVE' }) as Error);
  });

  it('refuses a current scope that is not an object', () => {
    expect(() => applyScopeEdits(null, ['max_rows_per_query=1'])).toThrow(expect.objectContaining({ code: 'SCOPE_INVALID' }) as Error);
  });

  it('never pollutes prototypes', () => {
    expect(() => applyScopeEdits({ resources: ['tasks'] }, ['filters.__proto__.include_personal=false'])).toThrow();
    expect(({} as Record<string, unknown>).include_personal).toBeUndefined();
  });

  it('escapes control characters of a key it echoes', () => {
    try {
      applyScopeEdits(base, ['\u001b[31mkey=1']);
      expect.unreachable();
    } catch (err) {
      const details = (err as MosaicError).details as { path: string }[];
      expect(details[0]?.path).toBe('\\u001b[31mkey');
    }
  });
});

describe('parseScopeEdit', () => {
  it.each([
    ['max_rows_per_query=100', { path: ['max_rows_per_query'], value: 100 }],
    ['resources=tasks,notes', { path: ['resources'], value: ['tasks', 'notes'] }],
    ['filters.tasks.include_teams=t1,t2', { path: ['filters', 'tasks', 'include_teams'], value: ['t1', 't2'] }],
    ['filters.tasks.include_personal=false', { path: ['filters', 'tasks', 'include_personal'], value: false }],
    ['filters.tasks.include_personal=true', { path: ['filters', 'tasks', 'include_personal'], value: true }],
    ['filters.tasks=null', { path: ['filters', 'tasks'], value: undefined }],
    ['rate_limit_per_minute=600', { path: ['rate_limit_per_minute'], value: 600 }],
    ['max_rows_per_query = 7', { path: ['max_rows_per_query'], value: 7 }],
  ])('%s', (text, expected) => {
    expect(parseScopeEdit(text)).toEqual(expected);
  });

  it('throws SCOPE_INVALID for a malformed edit (the CLI can reject flags before any network call)', () => {
    expect(() => parseScopeEdit('bogus')).toThrow(expect.objectContaining({ code: 'SCOPE_INVALID', message: expect.stringMatching(/^invalid --set: bogus: expected key=value/) as string }) as Error);
  });
});
