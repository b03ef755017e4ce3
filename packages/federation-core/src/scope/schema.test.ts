import { describe, expect, it } from 'vitest';
import { MosaicError } from '../errors.js';
import {
  DEFAULT_MAX_ROWS_PER_QUERY,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  RESOURCES,
  checkScope,
  describeScope,
  isResource,
  isSensitiveResource,
  scopeSchema,
  suggestResource,
  validateScope,
  type Scope,
} from './index.js';

const minimal = { resources: ['tasks'] };

describe('validateScope — accepted scopes are normalised', () => {
  const cases: { name: string; input: unknown; expected: Scope }[] = [
    {
      name: 'minimal: defaults written out',
      input: minimal,
      expected: {
        resources: ['tasks'],
        excluded_resources: [],
        filters: {},
        max_rows_per_query: DEFAULT_MAX_ROWS_PER_QUERY,
        rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
      },
    },
    {
      name: 'the contract example',
      input: {
        resources: ['tasks', 'notes', 'memory'],
        excluded_resources: ['credentials', 'api_keys'],
        filters: { tasks: { include_teams: ['t-eng'], include_personal: true } },
        max_rows_per_query: 500,
        rate_limit_per_minute: 60,
      },
      expected: {
        resources: ['tasks', 'notes', 'memory'],
        excluded_resources: ['credentials', 'api_keys'],
        filters: { tasks: { include_teams: ['t-eng'], include_personal: true } },
        max_rows_per_query: 500,
        rate_limit_per_minute: 60,
      },
    },
    {
      name: 'include_personal defaults to true; include_teams stays absent',
      input: { resources: ['notes'], filters: { notes: {} } },
      expected: { resources: ['notes'], excluded_resources: [], filters: { notes: { include_personal: true } }, max_rows_per_query: 100, rate_limit_per_minute: 60 },
    },
    {
      name: 'empty include_teams is kept (no team rows)',
      input: { resources: ['notes'], filters: { notes: { include_teams: [], include_personal: false } } },
      expected: {
        resources: ['notes'],
        excluded_resources: [],
        filters: { notes: { include_teams: [], include_personal: false } },
        max_rows_per_query: 100,
        rate_limit_per_minute: 60,
      },
    },
    {
      name: 'bounds: 1 and 10000 rows, 1 and 6000 per minute',
      input: { resources: ['memory'], max_rows_per_query: 10000, rate_limit_per_minute: 6000 },
      expected: { resources: ['memory'], excluded_resources: [], filters: {}, max_rows_per_query: 10000, rate_limit_per_minute: 6000 },
    },
    {
      name: 'lower bounds',
      input: { resources: ['memory'], max_rows_per_query: 1, rate_limit_per_minute: 1 },
      expected: { resources: ['memory'], excluded_resources: [], filters: {}, max_rows_per_query: 1, rate_limit_per_minute: 1 },
    },
  ];
  it.each(cases)('$name', ({ input, expected }) => {
    expect(validateScope(input)).toEqual(expected);
  });

  it('does not modify its input', () => {
    const input = { resources: ['tasks'], filters: { tasks: {} } };
    const before = structuredClone(input);
    validateScope(input);
    expect(input).toEqual(before);
  });

  it('is idempotent: a normalised scope validates to itself', () => {
    const once = validateScope({ resources: ['tasks', 'notes'], filters: { tasks: { include_teams: ['a'] } } });
    expect(validateScope(once)).toEqual(once);
  });
});

describe('validateScope — refused scopes name the path and what is allowed', () => {
  const cases: { name: string; input: unknown; problems: { path: string; message: RegExp }[] }[] = [
    { name: 'not an object', input: null, problems: [{ path: '', message: /expected an object, got null/ }] },
    { name: 'an array', input: ['tasks'], problems: [{ path: '', message: /expected an object, got a list/ }] },
    { name: 'resources missing', input: {}, problems: [{ path: 'resources', message: /^required: must be a list .*known: tasks, notes/ }] },
    { name: 'resources not a list', input: { resources: 'tasks' }, problems: [{ path: 'resources', message: /must be a list of the resources/ }] },
    { name: 'resources empty', input: { resources: [] }, problems: [{ path: 'resources', message: /at least one resource; known: tasks/ }] },
    {
      name: 'unknown resource name',
      input: { resources: ['calendar'] },
      problems: [{ path: 'resources[0]', message: /^"calendar" is not a known resource; known: tasks, notes, memory, credentials, api_keys$/ }],
    },
    { name: 'case games: Tasks', input: { resources: ['Tasks'] }, problems: [{ path: 'resources[0]', message: /"Tasks" is not a known resource — did you mean "tasks"\? \(names are lower case\)/ }] },
    { name: 'case games: NOTES', input: { resources: ['NOTES'] }, problems: [{ path: 'resources[0]', message: /did you mean "notes"/ }] },
    { name: 'api-keys with a dash', input: { resources: ['api-keys'] }, problems: [{ path: 'resources[0]', message: /did you mean "api_keys"/ }] },
    { name: 'a resource name that is not a string', input: { resources: [7] }, problems: [{ path: 'resources[0]', message: /expected a resource name \(a string\)/ }] },
    { name: 'duplicate resource', input: { resources: ['tasks', 'notes', 'tasks'] }, problems: [{ path: 'resources[2]', message: /"tasks" is listed twice/ }] },
    {
      name: 'resource both granted and excluded',
      input: { resources: ['tasks', 'notes'], excluded_resources: ['notes'] },
      problems: [{ path: 'excluded_resources[0]', message: /"notes" is also in resources; a resource is either granted or excluded/ }],
    },
    { name: 'duplicate excluded', input: { resources: ['tasks'], excluded_resources: ['memory', 'memory'] }, problems: [{ path: 'excluded_resources[1]', message: /listed twice/ }] },
    { name: 'unknown top-level key', input: { ...minimal, resource: ['x'] }, problems: [{ path: 'resource', message: /^unknown key; a scope allows: resources, excluded_resources, filters, max_rows_per_query, rate_limit_per_minute$/ }] },
    { name: 'unknown filter key', input: { ...minimal, filters: { tasks: { include_team: ['a'] } } }, problems: [{ path: 'filters.tasks.include_team', message: /unknown key; a filter allows: include_teams, include_personal/ }] },
    { name: 'filters keyed by an unknown resource', input: { ...minimal, filters: { Tasks: {} } }, problems: [{ path: 'filters.Tasks', message: /filters are keyed by resource \(lower case\)/ }] },
    { name: 'filter for a resource not in resources', input: { ...minimal, filters: { notes: {} } }, problems: [{ path: 'filters.notes', message: /applies to "notes", which is not in resources; add "notes" to resources or remove this filter/ }] },
    { name: 'filter for an excluded resource', input: { resources: ['tasks'], excluded_resources: ['credentials'], filters: { credentials: {} } }, problems: [{ path: 'filters.credentials', message: /not in resources/ }] },
    { name: 'filter not an object', input: { ...minimal, filters: { tasks: true } }, problems: [{ path: 'filters.tasks', message: /expected an object, got true/ }] },
    { name: 'empty team id', input: { ...minimal, filters: { tasks: { include_teams: [''] } } }, problems: [{ path: 'filters.tasks.include_teams[0]', message: /a team id must not be empty/ }] },
    { name: 'team id not a string', input: { ...minimal, filters: { tasks: { include_teams: [3] } } }, problems: [{ path: 'filters.tasks.include_teams[0]', message: /a team id must be a string/ }] },
    { name: 'team id too long', input: { ...minimal, filters: { tasks: { include_teams: ['x'.repeat(257)] } } }, problems: [{ path: 'filters.tasks.include_teams[0]', message: /at most 256 characters/ }] },
    { name: 'duplicate team', input: { ...minimal, filters: { tasks: { include_teams: ['a', 'a'] } } }, problems: [{ path: 'filters.tasks.include_teams[1]', message: /team "a" is listed twice/ }] },
    { name: 'include_teams not a list', input: { ...minimal, filters: { tasks: { include_teams: 'a' } } }, problems: [{ path: 'filters.tasks.include_teams', message: /expected a list/ }] },
    { name: 'too many teams', input: { ...minimal, filters: { tasks: { include_teams: Array.from({ length: 1001 }, (_, i) => `t${i}`) } } }, problems: [{ path: 'filters.tasks.include_teams', message: /at most 1000 teams/ }] },
    { name: 'include_personal not boolean', input: { ...minimal, filters: { tasks: { include_personal: 'no' } } }, problems: [{ path: 'filters.tasks.include_personal', message: /must be true or false/ }] },
    { name: 'max_rows 0', input: { ...minimal, max_rows_per_query: 0 }, problems: [{ path: 'max_rows_per_query', message: /must be at least 1 \(a whole number from 1 to 10000\)/ }] },
    { name: 'max_rows 10001', input: { ...minimal, max_rows_per_query: 10001 }, problems: [{ path: 'max_rows_per_query', message: /^must be at most 10000$/ }] },
    { name: 'max_rows fractional', input: { ...minimal, max_rows_per_query: 2.5 }, problems: [{ path: 'max_rows_per_query', message: /must be a whole number from 1 to 10000/ }] },
    { name: 'max_rows as text', input: { ...minimal, max_rows_per_query: '500' }, problems: [{ path: 'max_rows_per_query', message: /must be a whole number/ }] },
    { name: 'max_rows null', input: { ...minimal, max_rows_per_query: null }, problems: [{ path: 'max_rows_per_query', message: /must be a whole number/ }] },
    { name: 'rate 0', input: { ...minimal, rate_limit_per_minute: 0 }, problems: [{ path: 'rate_limit_per_minute', message: /at least 1/ }] },
    { name: 'rate too high', input: { ...minimal, rate_limit_per_minute: 6001 }, problems: [{ path: 'rate_limit_per_minute', message: /at most 6000/ }] },
    { name: 'rate negative', input: { ...minimal, rate_limit_per_minute: -5 }, problems: [{ path: 'rate_limit_per_minute', message: /at least 1/ }] },
  ];
  it.each(cases)('$name', ({ input, problems }) => {
    const check = checkScope(input, { allowSensitive: true });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.code).toBe('SCOPE_INVALID');
    expect(check.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => {
      expect(check.problems[i]?.path).toBe(p.path);
      expect(check.problems[i]?.message).toMatch(p.message);
    });
    let thrown: unknown;
    try {
      validateScope(input, { allowSensitive: true });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MosaicError);
    const err = thrown as MosaicError;
    expect(err.code).toBe('SCOPE_INVALID');
    expect(err.statusCode).toBe(400);
    expect(err.details).toEqual(check.problems);
    expect(err.message).toMatch(/^invalid scope: /);
    expect(err.remediation).toBeDefined();
  });

  it('reports every problem at once, structural and cross-field', () => {
    const check = checkScope({
      resources: ['tasks', 'tasks', 'Memory'],
      excluded_resources: ['tasks'],
      filters: { notes: {}, tasks: { include_teams: ['', 'a', 'a'], x: 1 } },
      max_rows_per_query: 0,
      extra: true,
    });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems.map((p) => p.path).sort()).toEqual(
      [
        'resources[2]',
        'resources[1]',
        'excluded_resources[0]',
        'filters.notes',
        'filters.tasks.include_teams[0]',
        'filters.tasks.include_teams[2]',
        'filters.tasks.x',
        'max_rows_per_query',
        'extra',
      ].sort(),
    );
  });

  it('escapes terminal control characters of names it echoes', () => {
    const check = checkScope({ resources: ['\u001b[2Jtasks\n'] });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    const message = check.problems[0]?.message ?? '';
    expect([...message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(message).toContain('\\u001b[2Jtasks\\n');
  });

  it('treats a JSON "__proto__" key as the unknown key it is', () => {
    const input: unknown = JSON.parse('{"resources":["tasks"],"__proto__":{"x":1},"filters":{"__proto__":{}}}');
    const check = checkScope(input);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems.map((p) => p.path).sort()).toEqual(['__proto__', 'filters.__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('caps an enormous list of problems', () => {
    const check = checkScope({ resources: Array.from({ length: 500 }, (_, i) => `r${i}`) });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems).toHaveLength(50);
    expect(check.problems.at(-1)).toEqual({ path: '', message: 'and 451 more problems' });
  });

  it('keeps a team id out of the message only as escaped text', () => {
    const check = checkScope({ resources: ['tasks'], filters: { tasks: { include_teams: ['a\u009b31m', 'a\u009b31m'] } } });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems[0]?.message).toContain('\\u009b');
  });
});

describe('sensitive resources', () => {
  const cases: { name: string; input: unknown; options: Parameters<typeof validateScope>[1]; ok: boolean; sensitive?: string[] }[] = [
    { name: 'credentials without the flag', input: { resources: ['tasks', 'credentials'] }, options: {}, ok: false, sensitive: ['credentials'] },
    { name: 'both without the flag', input: { resources: ['api_keys', 'credentials'] }, options: { allowSensitive: false }, ok: false, sensitive: ['api_keys', 'credentials'] },
    { name: 'with the flag', input: { resources: ['credentials', 'api_keys'] }, options: { allowSensitive: true }, ok: true },
    { name: 'excluded needs no flag', input: { resources: ['tasks'], excluded_resources: ['credentials', 'api_keys'] }, options: {}, ok: true },
    { name: 'kept on edit: already approved', input: { resources: ['credentials', 'notes'] }, options: { previous: { resources: ['credentials'] } }, ok: true },
    { name: 'added on edit: needs the flag', input: { resources: ['credentials', 'api_keys'] }, options: { previous: { resources: ['credentials'] } }, ok: false, sensitive: ['api_keys'] },
    { name: 'previous null is no approval', input: { resources: ['api_keys'] }, options: { previous: null }, ok: false, sensitive: ['api_keys'] },
  ];
  it.each(cases)('$name', ({ input, options, ok, sensitive }) => {
    const check = checkScope(input, options);
    expect(check.ok).toBe(ok);
    if (ok) {
      expect(() => validateScope(input, options)).not.toThrow();
      return;
    }
    expect(check).toMatchObject({ code: 'SCOPE_SENSITIVE', sensitive });
    try {
      validateScope(input, options);
      expect.unreachable();
    } catch (err) {
      const e = err as MosaicError;
      expect(e.code).toBe('SCOPE_SENSITIVE');
      expect(e.statusCode).toBe(400);
      expect(e.message).toContain('--allow-sensitive');
      expect(e.remediation).toContain('--allow-sensitive');
      expect(e.details).toEqual(expect.arrayContaining([expect.objectContaining({ message: expect.stringContaining('--allow-sensitive') })]));
    }
  });

  it('reports structure before sensitivity', () => {
    expect(checkScope({ resources: ['credentials'], bogus: 1 })).toMatchObject({ ok: false, code: 'SCOPE_INVALID' });
  });
});

describe('resources helpers', () => {
  it('knows exactly the five resources, two of them sensitive', () => {
    expect(RESOURCES).toEqual(['tasks', 'notes', 'memory', 'credentials', 'api_keys']);
    expect(RESOURCES.filter(isSensitiveResource)).toEqual(['credentials', 'api_keys']);
  });
  it.each([
    ['tasks', true],
    ['Tasks', false],
    [' tasks', false],
    ['__proto__', false],
    ['constructor', false],
    [undefined, false],
  ])('isResource(%j) = %s', (name, expected) => {
    expect(isResource(name)).toBe(expected);
  });
  it.each([
    ['Tasks', 'tasks'],
    ['task', 'tasks'],
    ['API_KEYS', 'api_keys'],
    ['credential', 'credentials'],
    ['calendar', undefined],
  ])('suggestResource(%j) = %s', (name, expected) => {
    expect(suggestResource(name)).toBe(expected);
  });
});

describe('describeScope', () => {
  it.each([
    [{ resources: ['tasks', 'notes'], max_rows_per_query: 500 }, 'tasks, notes · max 500 rows · 60/min'],
    [{ resources: ['tasks'], filters: { tasks: { include_teams: ['eng'] } } }, 'tasks (teams: eng; personal) · max 100 rows · 60/min'],
    [{ resources: ['tasks'], filters: { tasks: { include_personal: false } } }, 'tasks (all teams; no personal) · max 100 rows · 60/min'],
    [{ resources: ['tasks'], filters: { tasks: { include_teams: [] } } }, 'tasks (no teams; personal) · max 100 rows · 60/min'],
    [{ resources: ['tasks'], filters: { tasks: { include_teams: ['a b\n'] } } }, 'tasks (teams: "a b\\n"; personal) · max 100 rows · 60/min'],
  ])('%j → %s', (input, expected) => {
    expect(describeScope(validateScope(input))).toBe(expected);
  });
});

describe('scopeSchema (for other parsers, e.g. the TUI)', () => {
  it('is usable directly and applies the same rules', () => {
    expect(scopeSchema.safeParse({ resources: ['tasks'], excluded_resources: ['tasks'] }).success).toBe(false);
    expect(scopeSchema.safeParse({ resources: ['tasks'] }).success).toBe(true);
  });
});
