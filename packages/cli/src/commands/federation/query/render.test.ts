import { describe, expect, it } from 'vitest';
import type { QueryResponse } from '@mosaic/federation-core';
import { TABLE_WIDTH } from '../../../render/text.js';
import { askedSources, renderQueryItems, renderQueryTable, sourceCell, sourceWarnings } from './render.js';
import { parseLimit, parseSource, queryBody } from './run.js';

const answer: QueryResponse = {
  items: [
    { id: 'task-1', title: 'Local thing', _source: 'local' },
    { id: 'w-1', title: 'Ship the \u001b[31mrelease\u001b[0m', _source: 'federated:work', _cached: true },
    { id: 'w-2-with-a-rather-long-id', title: 'x'.repeat(60), _source: 'federated:a-peer-with-a-long-name' },
  ],
  sources: [
    { source: 'local', ok: true, cached: false, latencyMs: 1 },
    { source: 'federated:work', ok: true, cached: true, latencyMs: 0.1 },
    { source: 'federated:lab', ok: false, cached: false, latencyMs: 5000, error: { code: 'PEER_UNREACHABLE', message: 'lab.example.net:8443: no answer within 5000 ms' } },
    { source: 'federated:old', ok: false, cached: false, latencyMs: 3, error: { code: 'PEER_REFUSED_CERT', message: 'old:8443: the server refused our certificate' } },
    { source: 'federated:odd', ok: false, cached: false, latencyMs: 3, error: { code: 'SOMETHING_ELSE', message: 'it said \u001b[2Jno' } },
  ],
  partial: true,
};

describe('query rendering', () => {
  it('a table with a SOURCE column (cached marked), 80 columns at most, stored text escaped', () => {
    const lines = renderQueryTable(answer, { verb: 'list', color: false }).split('\n');
    expect(lines).toEqual([
      'SOURCE                   ID               TITLE',
      'local                    task-1           Local thing',
      'federated:work (cached)  w-1              Ship the ?[31mrelease?[0m',
      `federated:a-peer-with-a… w-2-with-a-rath… ${'x'.repeat(37)}…`,
    ]);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH);
    expect(sourceCell({ _source: 'local' })).toBe('local');
  });

  it('search adds the score at its source', () => {
    const hits: QueryResponse = { items: [{ id: 'n-1', title: 'Plan', _source: 'federated:work', _score: 2.5 }, { id: 'n-2', title: 'Other', _source: 'local' }], sources: [], partial: false };
    const lines = renderQueryTable(hits, { verb: 'search', color: false }).split('\n');
    expect(lines).toEqual(['SOURCE                   ID                SCORE TITLE', 'federated:work           n-1                2.50 Plan', 'local                    n-2                   — Other']);
  });

  it('get: one block per source, the body line by line', () => {
    const text = renderQueryItems(
      'tasks',
      { items: [{ id: 'w-2', title: 'Pay', _source: 'federated:work', ownerUserId: null, teamId: 'T1', body: 'one\ntwo\u001b[1m' }], sources: [], partial: false },
      { color: false },
    );
    expect(text.split('\n')).toEqual(['tasks/w-2  from federated:work', '  title  Pay', '  owner  team T1', '  body   one', '         two?[1m']);
  });

  it('one warning line per failed source, with a hint where one is known, escaped', () => {
    expect(sourceWarnings(answer)).toEqual([
      "warning: federated:lab failed (PEER_UNREACHABLE): lab.example.net:8443: no answer within 5000 ms → is lab's gateway running, and reachable from this gateway (not only from your machine)? `mosaic federation status` shows the last error",
      "warning: federated:old failed (PEER_REFUSED_CERT): old: the gateway refused our certificate (revoked, expired, or issued by another CA) → mosaic federation peer inspect old   — then ask old's admin for a new enrollment token",
      'warning: federated:odd failed (SOMETHING_ELSE): it said ?[2Jno',
    ]);
    expect(askedSources(answer)).toBe('local, federated:work, federated:lab, federated:old, federated:odd');
  });
});

describe('query flags', () => {
  it('--source is local, all (default) or federated:<peer>; anything else is a usage error with a suggestion', () => {
    expect(parseSource(undefined)).toBe('all');
    expect(parseSource('federated:work')).toBe('federated:work');
    expect(() => parseSource('federated:')).toThrow(/is not a source/);
    expect(() => parseSource('work')).toThrow(expect.objectContaining({ remediation: 'use local, all, or federated:<peer> (did you mean federated:work?)' }) as Error);
  });

  it('--limit is 1–10000', () => {
    expect(parseLimit('50')).toBe(50);
    for (const bad of ['0', '10001', '-1', '1e3', 'x']) expect(() => parseLimit(bad)).toThrow(/not a number from 1 to 10000/);
  });

  it('the request body per verb', () => {
    expect(queryBody('list', 'tasks', undefined, { as: 'alice', limit: '5' })).toEqual({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice', limit: 5 });
    expect(queryBody('get', 'tasks', 't-1', { source: 'local' })).toEqual({ verb: 'get', resource: 'tasks', source: 'local', id: 't-1' });
    expect(queryBody('search', 'notes', 'plan', {})).toEqual({ verb: 'search', resource: 'notes', source: 'all', query: 'plan' });
    expect(() => queryBody('get', 'tasks', 't-1', { limit: '3' })).toThrow(/--limit does not apply/);
    expect(() => queryBody('search', 'tasks', '  ', {})).toThrow(/needs something to search for/);
  });
});
