import { describe, expect, it } from 'vitest';
import { checkDraft, draftFromScope, fieldsOf, scopeInput, toggle, withText } from './editor.js';
import { Ring } from './ring.js';
import { splitKeys } from './keys.js';
import { AuditTailModel, parseFilter } from './tail.js';
import { countdown, escapeText, fit, groupPin } from './text.js';
import { auditRow, grant, NOW } from '../test-support/fake.js';

describe('escapeText (SECURITY.md case 35)', () => {
  it.each([
    ['r1\r\u001b[2K✔ ok', 'r1\\r\\x1b[2K✔ ok'],
    ['evil\u202Etxt.exe', 'evil\\u202etxt.exe'],
    ['a\nb\tc', 'a\\nb\\tc'],
    ['\u009b31m', '\\x9b31m'],
    ['plain', 'plain'],
  ])('%j is drawn as %j', (input, shown) => expect(escapeText(input)).toBe(shown));

  it('fit pads, cuts with … and escapes', () => {
    expect(fit('abc', 5)).toBe('abc  ');
    expect(fit('abcdefgh', 5)).toBe('abc… ');
    expect(fit('\u001b', 6)).toBe('\\x1b  ');
  });
});

describe('countdown', () => {
  it.each([
    [23, '23d', 'ok'],
    [5, '5d ⚠', 'soon'],
    [2, '2d ⚠', 'urgent'],
    [1, '24h ⚠', 'urgent'],
    [-1, 'expired', 'expired'],
  ])('%d days left → %s (%s)', (days, text, urgency) => {
    expect(countdown(new Date(NOW + days * 86_400_000).toISOString(), NOW)).toEqual({ text, urgency });
  });
  it('groups a pin by four', () => expect(groupPin(`sha256:${'ab'.repeat(32)}`)[0]).toBe('ABAB ABAB ABAB ABAB ABAB ABAB ABAB ABAB'));
});

describe('Ring', () => {
  it('keeps the last `capacity` items in order', () => {
    const r = new Ring<number>(3);
    for (let i = 0; i < 5; i++) r.push(i);
    expect(r.toArray()).toEqual([2, 3, 4]);
    expect(r.size).toBe(3);
  });
});

describe('AuditTailModel', () => {
  it('holds at most its capacity, however many rows arrive, and shows the newest that fit', () => {
    const m = new AuditTailModel(100);
    for (let i = 0; i < 1000; i++) m.push(auditRow({ rowsOut: i }));
    m.flush();
    expect(m.ring.size).toBe(100);
    expect(m.total).toBe(1000);
    expect(m.window(3).map((r) => r.row.rowsOut)).toEqual([997, 998, 999]);
  });

  it('freezes at a pause point and filters by outcome, verb, grant and text', () => {
    const m = new AuditTailModel();
    m.push(auditRow({ outcome: 'denied', verb: 'get', statusCode: 403 }));
    m.push(auditRow({ outcome: 'allowed', resource: 'notes' }));
    m.flush();
    const pausedAt = m.total;
    m.push(auditRow({ outcome: 'denied', peer: 'lab' }));
    m.flush();
    expect(m.window(10, { untilSeq: pausedAt })).toHaveLength(2);
    expect(m.window(10, { filter: parseFilter('outcome:denied') })).toHaveLength(2);
    expect(m.window(10, { filter: parseFilter('outcome:denied verb:get') })).toHaveLength(1);
    expect(m.window(10, { filter: parseFilter('peer:lab') })).toHaveLength(1);
    expect(m.window(10, { filter: parseFilter('notes') })).toHaveLength(1);
    expect(m.window(10, { filter: parseFilter('grant:6b1f') })).toHaveLength(3);
    expect(m.window(10, { filter: parseFilter('grant:ffff') })).toHaveLength(0);
  });

  it('an admin row shows its admin token as who acted, even when it names the grant\'s peer', () => {
    const m = new AuditTailModel();
    m.push(auditRow({ peer: 'home', adminTokenName: 'root', verb: 'admin.grant.revoke' }));
    m.push(auditRow({ peer: 'home' }));
    m.flush();
    expect(m.window(2).map((r) => r.peer)).toEqual(['admin:root', 'home']);
  });

  it('escapes stored strings once, on the way in', () => {
    const m = new AuditTailModel();
    m.push(auditRow({ peer: 'ho\u001b[31mme', resource: 'Tasks\u202e' }));
    m.flush();
    const [r] = m.window(1);
    expect(r!.peer).toBe('ho\\x1b[31mme');
    expect(r!.resource).toBe('Tasks\\u202e');
  });
});

describe('grant editor model', () => {
  const g = grant();
  it('round-trips a scope through the draft', () => {
    const d = draftFromScope(g.scope);
    expect(scopeInput(d)).toEqual({ resources: ['tasks', 'notes'], excluded_resources: [], filters: {}, max_rows_per_query: 500, rate_limit_per_minute: 60 });
    expect(checkDraft(d, g.scope).scope).toEqual(g.scope);
  });

  it('puts each problem at its field', () => {
    let d = draftFromScope(g.scope);
    d = withText(d, { id: 'maxRows', kind: 'maxRows' }, '20000');
    d = withText(d, { id: 'rateLimit', kind: 'rateLimit' }, 'fast');
    d = withText(d, { id: 'teams:tasks', kind: 'teams', resource: 'tasks' }, 't-eng,,t-ops');
    const c = checkDraft(d, g.scope);
    expect(c.scope).toBeNull();
    expect(c.errors.get('maxRows')).toBe('max_rows_per_query: must be at most 10000');
    expect(c.errors.get('rateLimit')).toMatch(/^rate_limit_per_minute: must be a whole number/);
    expect(c.errors.get('teams:tasks')).toMatch(/must not be empty/);
  });

  it('asks for the sensitive switch before granting credentials, and no resource at all is an error', () => {
    let d = draftFromScope(g.scope);
    const cred = fieldsOf(d).find((f) => f.id === 'resource:credentials')!;
    d = toggle(d, cred);
    expect(checkDraft(d, g.scope).errors.get('resource:credentials')).toMatch(/sensitive/);
    d = toggle(d, fieldsOf(d).find((f) => f.id === 'sensitive')!);
    expect(checkDraft(d, g.scope).scope?.resources).toContain('credentials');
    const base = draftFromScope(g.scope);
    const c = checkDraft({ ...base, resources: { ...base.resources, tasks: 'off', notes: 'off' } }, g.scope);
    expect(c.scope).toBeNull();
    expect(c.errors.get('resource:tasks')).toMatch(/at least one resource/);
  });

  it('writes team filters: empty = all teams, none = [], personal off', () => {
    let d = draftFromScope(g.scope);
    d = withText(d, { id: 'teams:tasks', kind: 'teams', resource: 'tasks' }, 'none');
    d = toggle(d, { id: 'personal:notes', kind: 'personal', resource: 'notes' });
    expect(checkDraft(d, g.scope).scope?.filters).toEqual({ tasks: { include_teams: [], include_personal: true }, notes: { include_personal: false } });
  });
});

describe('splitKeys: several keys in one read', () => {
  const plain = {} as Parameters<typeof splitKeys>[1];
  it('splits typed text and the Enter that came with it, so a field commits whatever the timing', () => {
    expect(splitKeys('50\r', plain)).toEqual([
      { input: '50', key: plain },
      { input: '', key: { return: true } },
    ]);
    expect(splitKeys('a\r\nb\n', plain).map((k) => (k.key.return ? '⏎' : k.input))).toEqual(['a', '⏎', 'b', '⏎']);
  });
  it('leaves a single key and a plain chunk alone', () => {
    expect(splitKeys('x', plain)).toEqual([{ input: 'x', key: plain }]);
    expect(splitKeys('abc', plain)).toEqual([{ input: 'abc', key: plain }]);
    const enter = { return: true } as Parameters<typeof splitKeys>[1];
    expect(splitKeys('\r', enter)).toEqual([{ input: '\r', key: enter }]);
  });
});
