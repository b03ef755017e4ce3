import { describe, expect, it } from 'vitest';
import type { AuditRow } from '@mosaic/federation-core';
import { olderThanDays } from './archive.js';
import { matchesFilter, parseListFlags } from './list.js';
import { relativeTime, renderArchive, renderAuditTable, renderVerify, TABLE_WIDTH } from './render.js';

const NOW = Date.parse('2030-01-31T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function row(overrides: Partial<AuditRow> = {}): AuditRow {
  return {
    id: 'r1',
    at: ago(3_000),
    requestId: 'req',
    callerRequestId: null,
    traceId: null,
    grantId: null,
    peer: 'home',
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: 'allowed',
    statusCode: 200,
    rowsOut: 12,
    bytesOut: 100,
    latencyMs: 6.25,
    prevHash: null,
    ...overrides,
  };
}

describe('audit rendering', () => {
  it.each([
    [1_000, 'now'],
    [42_000, '42s ago'],
    [5 * 60_000, '5m ago'],
    [3 * 3_600_000, '3h ago'],
    [47 * 3_600_000, '47h ago'],
    [12 * 86_400_000, '12d ago'],
    [999 * 86_400_000, '999d ago'],
    [1100 * 86_400_000, '3y ago'],
    [-60_000, 'now'],
  ])('%d ms ago reads "%s"', (ms, text) => {
    expect(relativeTime(ago(ms), NOW)).toBe(text);
  });

  it('draws a table no wider than 80 columns, whatever the values, with admin rows as admin:<token> (even when the row names the grant\'s peer)', () => {
    const rows = [
      row(),
      row({ peer: 'home', adminTokenName: 'root', verb: 'admin.team.remove_member', resource: null, latencyMs: 0 }),
      row({ peer: 'a-very-long-peer-name-indeed', verb: 'search', resource: 'Tasks\u001b[31m', outcome: 'rate_limited', statusCode: 429, rowsOut: 0, latencyMs: 12_345.6 }),
    ];
    const lines = renderAuditTable(rows, { now: NOW, color: false }).split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH);
    expect(lines[0]).toMatch(/^WHEN\s+WHO\s+VERB\s+RESOURCE\s+OUTCOME\s+CODE\s+ROWS\s+MS$/);
    expect(lines[1]).toMatch(/^now\s+home\s+list\s+tasks\s+allowed\s+200\s+12\s+6\.3$/);
    expect(lines[2]).toContain('admin:root');
    expect(lines[2]).toContain('admin.team.remove…');
    expect(lines[3]).toContain('a-very-lon…');
    expect(lines[3]).not.toContain('\u001b'); // a stored name never drives the terminal
    expect(lines[3]).toMatch(/rate_limited\s+429\s+0\s+12346$/);
  });

  it('colours the outcome only when asked', () => {
    expect(renderAuditTable([row({ outcome: 'denied' })], { now: NOW, color: true })).toContain('\u001b[31mdenied');
    expect(renderAuditTable([row({ outcome: 'denied' })], { now: NOW, color: false })).not.toContain('\u001b');
  });

  it('says how many rows in how many spools, or where each chain breaks and why', () => {
    expect(renderVerify({ ok: true, spools: [{ spool: 'a', rows: 3, chained: true }, { spool: 'b', rows: 1, chained: true }] }, { now: NOW, color: false })).toBe(
      '✔ audit chain intact: 4 rows in 2 spools',
    );
    const broken = renderVerify(
      {
        ok: false,
        spools: [
          { spool: 'a', rows: 3, chained: true, firstBreak: { id: 'row-7', at: ago(3 * 3_600_000), reason: 'missing' } },
          { spool: 'b', rows: 1, chained: true, firstBreak: { id: 'row-9', at: ago(60_000), reason: 'edited' } },
        ],
      },
      { now: NOW, color: false },
    );
    expect(broken).toContain('audit chain broken in spool a: the row before row-7 (2030-01-31 09:00:00Z, 3h ago) is missing');
    expect(broken).toContain('audit chain broken in spool b: row row-9 (2030-01-31 11:59:00Z, 1m ago) was edited');
    expect(broken).toContain('checked 4 rows in 2 spools; 2 chains broken');
  });

  // Whoever can write to the audit store (SECURITY.md case 38) must not drive the operator's
  // terminal through what the CLI prints from it (case 35): no C0/C1 control, no bidi control.
  const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/; // eslint-disable-line no-control-regex
  const FORGED = '\r\u001b[2K\u009b2K\u2714 audit chain intact\u202e\u2066';

  it('a tampered break (id, time, spool) cannot forge an intact chain on the screen', () => {
    const out = renderVerify(
      {
        ok: false,
        spools: [{ spool: `sp\u001b]0;title\u0007${FORGED}`, rows: 3, chained: true, firstBreak: { id: `r1${FORGED}`, at: `${ago(60_000)}\u001b[8m\u2067`, reason: 'edited' } }],
      },
      { now: NOW, color: false },
    );
    const lines = out.split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toMatch(UNSAFE);
    expect(lines[0]).toMatch(/^✖ audit chain broken in spool sp\?\]0;title\?\?\?\[2K\?2K✔ audit chain intact\?\?: row r1\?\?\[2K/);
    expect(lines[0]).toContain('(2030-01-31 11:59:00.000Z?[8m?, ?) was edited');
    const missing = renderVerify({ ok: false, spools: [{ spool: null, rows: 1, chained: true, firstBreak: { id: `r2${FORGED}`, at: ago(0), reason: 'missing' } }] }, { now: NOW, color: false });
    for (const line of missing.split('\n')) expect(line).not.toMatch(UNSAFE);
    expect(missing).toMatch(/^✖ audit chain broken in spool \(none\): the row before r2\?\?\[2K/);
  });

  it('no stored value in a table row carries a control or bidi character to the terminal', () => {
    const evil = (s: string) => `${s}\u202e\u2066\u0085\u009b`;
    const rows = [
      row({ peer: evil('h'), verb: evil('v'), resource: evil('r'), outcome: evil('o') as AuditRow['outcome'] }),
      row({ peer: null, adminTokenName: evil('t'), at: evil(ago(1_000)) }),
    ];
    const lines = renderAuditTable(rows, { now: NOW, color: false }).split('\n');
    for (const line of lines) {
      expect(line).not.toMatch(UNSAFE);
      expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH);
    }
    expect(lines[1]).toMatch(/^now\s+h\?\?\?\?\s+v\?\?\?\?\s+r\?\?\?\?\s+o\?\?\?\?\s/);
    expect(lines[2]).toMatch(/^\?\s+admin:t\?\?\?\?\s/);
  });

  it('reports an archive run and a dry run', () => {
    expect(renderArchive({ moved: 1, cutoff: '2030-01-01T00:00:00.000Z' }, '90d')).toMatch(/^archived 1 audit row older than 90d \(before 2030-01-01 00:00:00Z\)/);
    expect(renderArchive({ wouldMove: 0, cutoff: '2030-01-01T00:00:00.000Z' }, '30d')).toMatch(/^would archive 0 audit rows older than 30d .*nothing changed \(dry run\)$/);
    expect(renderArchive({ moved: 1, cutoff: '2030-01-01T00:00:00Z\r\u001b[2K\u202e' }, '90d')).toContain('(before 2030-01-01 00:00:00Z??[2K?)');
  });
});

describe('audit flags', () => {
  it('--older-than is whole days', () => {
    expect(olderThanDays('90d')).toBe(90);
    expect(olderThanDays('48h')).toBe(2);
    for (const bad of ['90', '12h', '0d', '1.5d', 'soon']) expect(() => olderThanDays(bad), bad).toThrow(/--older-than/);
  });

  it('list flags become the API filter; bad ones are usage errors with a hint', () => {
    expect(parseListFlags({ since: '15m', grant: '6b1f', peer: 'home', outcome: 'denied', limit: '20' })).toEqual({
      filter: { since: '15m', grant: '6b1f', peer: 'home', outcome: 'denied', limit: 20 },
      follow: false,
    });
    expect(parseListFlags({ since: '2030-01-31T00:00:00Z', follow: true }).filter.since).toBe('2030-01-31T00:00:00Z');
    for (const flags of [{ since: 'yesterday' }, { since: '2030-01-31' }, { grant: 'xyz' }, { limit: '0' }, { limit: '10001' }, { limit: 'ten' }]) {
      expect(() => parseListFlags(flags), JSON.stringify(flags)).toThrow(expect.objectContaining({ code: 'USAGE', remediation: expect.any(String) as unknown }) as Error);
    }
  });

  it('--follow filters the stream as the API filters the list', () => {
    const since = NOW - 60_000;
    expect(matchesFilter(row({ grantId: '6b1f0000-0000-4000-8000-000000000000' }), { grant: '6b1f', peer: 'home' }, since)).toBe(true);
    expect(matchesFilter(row(), { peer: 'lab' }, null)).toBe(false);
    expect(matchesFilter(row(), { outcome: 'denied' }, null)).toBe(false);
    expect(matchesFilter(row(), { verb: 'get' }, null)).toBe(false);
    expect(matchesFilter(row(), { grant: '6b1f' }, null)).toBe(false);
    expect(matchesFilter(row({ at: ago(120_000) }), {}, since)).toBe(false);
  });
});
