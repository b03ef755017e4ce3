import { describe, expect, it } from 'vitest';
import type { ExplainResponse, Grant, TokenResponse } from '@mosaic/federation-core';
import { relativeWhen, TABLE_WIDTH } from '../../../render/text.js';
import { describeScope, groupedPin, renderExplain, renderGrant, renderGrantTable, renderToken } from './render.js';

const NOW = Date.parse('2030-01-31T12:00:00.000Z');
const at = (ms: number) => new Date(NOW + ms).toISOString();
const DAY = 86_400_000;
const PIN = 'sha256:9f3a41c287ec0b6e11223344556677889900aabbccddeeff00112233d1a477c0';

function grant(overrides: Partial<Grant> = {}): Grant {
  return {
    id: '6b1f2c3d-0000-4000-8000-000000000001',
    subjectUserId: 'alice',
    peerName: 'home',
    status: 'active',
    scope: { resources: ['tasks', 'notes'], excluded_resources: [], filters: {}, max_rows_per_query: 500, rate_limit_per_minute: 60 },
    createdAt: at(-3 * DAY),
    activatedAt: at(-3 * DAY + 60_000),
    revokedAt: null,
    revokeReason: null,
    expiresAt: at(6 * DAY + 3_600_000),
    certSerial: '4c19aa',
    certNotAfter: at(29 * DAY),
    ...overrides,
  };
}

describe('grant rendering', () => {
  it.each([
    [6 * DAY + 3_600_000, 'in 6d'],
    [90 * DAY - 20, 'in 90d'],
    [3 * 3_600_000, 'in 3h'],
    [2_000, 'now'],
    [-2 * DAY, '2d ago'],
  ])('a time %d ms from now reads "%s"', (ms, text) => {
    expect(relativeWhen(at(ms), NOW)).toBe(text);
  });

  it('lists grants in an 80-column table: id prefix, status, subject, peer, resources, rate, "in 6d"', () => {
    const rows = [
      grant(),
      grant({ id: '7c2a9e01-0000-4000-8000-000000000002', status: 'pending', peerName: 'a-very-long-peer-name', expiresAt: null, certSerial: null }),
      grant({ status: 'revoked', subjectUserId: 'x\u001b[31my', scope: { ...grant().scope, resources: ['tasks', 'notes', 'memory', 'credentials', 'api_keys'], rate_limit_per_minute: 6000 } }),
    ];
    const lines = renderGrantTable(rows, { now: NOW, color: false }).split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+SUBJECT\s+PEER\s+RESOURCES\s+RATE\s+EXPIRES$/);
    expect(lines[1]).toMatch(/^6b1f2c3d… active\s+alice\s+home\s+tasks,notes\s+60\/min\s+in 6d$/);
    expect(lines[2]).toMatch(/^7c2a9e01… pending\s+alice\s+a-very-lo…\s+tasks,notes\s+60\/min\s+never$/);
    expect(lines[3]).toMatch(/revoked\s+x\?\[31my\s+home\s+tasks,notes,memo… 6000\/min —$/);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(TABLE_WIDTH);
  });

  it('colours the status only when asked', () => {
    expect(renderGrantTable([grant()], { now: NOW, color: true })).toContain('\u001b[32mactive');
    expect(renderGrantTable([grant()], { now: NOW, color: false })).not.toContain('\u001b');
  });

  it('shows one grant with its scope field by field, and the next step while pending', () => {
    const g = grant({ status: 'pending', activatedAt: null, certSerial: null, certNotAfter: null, scope: { ...grant().scope, excluded_resources: ['credentials'], filters: { tasks: { include_teams: ['t-eng'], include_personal: false } } } });
    const text = renderGrant(g, { now: NOW, color: false });
    expect(text).toMatch(/^Grant 6b1f2c3d-0000-4000-8000-000000000001 {2}pending$/m);
    expect(text).toMatch(/^ {2}expires +2030-02-06 13:00:00Z \(in 6d\)$/m);
    expect(text).toMatch(/^ {2}filter tasks +teams t-eng; no personal rows$/m);
    expect(text).toMatch(/^ {2}excluded +credentials$/m);
    expect(text).toContain('next: mosaic federation grant token 6b1f2c3d');
  });

  it('says what a scope lets the peer read in one line', () => {
    expect(describeScope({ ...grant().scope, filters: { tasks: { include_teams: [], include_personal: true } } })).toBe('tasks (no teams; personal rows), notes · max 500 rows · 60 req/min');
  });

  it('hands off a token as UX.md shows it: the exact peer add line, the pin grouped, the expiry', () => {
    const t: TokenResponse = { token: 'kq3Zs', enrollmentUrl: 'https://work.example.net:8443/api/federation/v1/enroll/kq3Zs', caPin: PIN, expiresAt: at(15 * 60_000) };
    const text = renderToken(t, grant({ status: 'pending' }), { now: NOW, color: false, reenroll: false });
    expect(text).toMatch(/^Enrollment token for grant 6b1f2c3d… \(alice → home\), valid until \d\d:\d\d \(15 min\), single use\.$/m);
    expect(text).toContain(`  mosaic federation peer add \\\n    https://work.example.net:8443/api/federation/v1/enroll/kq3Zs \\\n    --ca-pin ${PIN}\n`);
    expect(text).toContain('  9f3a 41c2 87ec 0b6e 1122 3344 5566 7788\n  9900 aabb ccdd eeff 0011 2233 d1a4 77c0');
    expect(text).toContain('Expires 2030-01-31 12:15:00Z.');
    expect(renderToken(t, grant(), { now: NOW, color: false, reenroll: true })).toMatch(/^Re-enrollment token .*\nRedeeming it replaces the peer's certificate/);
    expect(groupedPin(PIN)).toHaveLength(2);
  });

  it('explains row by row, with what each rule that appears means', () => {
    const e: ExplainResponse = {
      grantId: grant().id,
      resource: 'tasks',
      rows: [
        { id: 'task-1', title: 'Mine', included: false, rule: 'filter.personal' },
        { id: 'task-2', title: 'Eng', included: true, rule: 'ok' },
        { id: 'task-3', title: 'Ops', included: false, rule: 'filter.team' },
        { id: 'task-4', title: "Bob's", included: false, rule: 'rbac' },
      ],
    };
    const text = renderExplain(e, grant(), false);
    expect(text).toMatch(/^What "home" would see of tasks through grant 6b1f2c3d… \(reading as alice\): 1 of 4 rows$/m);
    expect(text).toMatch(/^task-2\s+Eng\s+yes\s+ok$/m);
    expect(text).toMatch(/^task-3\s+Ops\s+no\s+filter\.team$/m);
    expect(text).toMatch(/^ {2}filter\.personal\s+a personal row, and filters\.tasks\.include_personal is false$/m);
    expect(text).toMatch(/^ {2}rbac\s+alice cannot read it here/m);
    expect(renderExplain({ ...e, resource: 'memory', rows: [] }, grant(), false)).toContain('memory is not in the scope\'s resources: the peer sees none of it (scope.not_listed)');
  });
});
