/**
 * The daily housekeeping job: the 90-day audit archive and long-expired enrollment tokens,
 * once shortly after start and then on an interval; a failure is logged, never thrown.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateScope } from '@mosaic/federation-core';
import { describeEachEngine } from '../test-support/engines.js';
import { hashToken, type NewAuditRecord, type Storage } from '../storage/index.js';
import { EXPIRED_TOKEN_GRACE_MS, startHousekeeping } from './housekeeping.js';

const DAY = 86_400_000;
const NOW = new Date('2030-06-01T00:00:00.000Z');
const silent = pino({ level: 'silent' });

function row(id: string, daysAgo: number): NewAuditRecord {
  return {
    id,
    at: new Date(NOW.getTime() - daysAgo * DAY).toISOString(),
    requestId: `req-${id}`,
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
    rowsOut: 1,
    bytesOut: 1,
    latencyMs: 1,
    prevHash: null,
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describeEachEngine('daily housekeeping', (engine) => {
  it('archives audit rows past 90 days and deletes enrollment tokens expired more than a week ago, shortly after start', async () => {
    const s: Storage = await engine.open({ clock: () => NOW });
    await s.audit.appendMany([row('old', 91), row('new', 89)]);
    await s.directory.applySeed({ users: [{ id: 'alice', name: 'Alice' }] });
    const grant = await s.grants.create({ subjectUserId: 'alice', peerName: 'home', scope: validateScope({ resources: ['tasks'] }), expiresAt: new Date(NOW.getTime() + 30 * DAY) });
    const expiredLongAgo = new Date(NOW.getTime() - EXPIRED_TOKEN_GRACE_MS - 1_000);
    await s.tokens.create({ grantId: grant.id, tokenHash: hashToken('long-expired'), expiresAt: expiredLongAgo });
    await s.tokens.create({ grantId: grant.id, tokenHash: hashToken('just-expired'), expiresAt: new Date(NOW.getTime() - 1_000) });

    const job = startHousekeeping({ storage: s, logger: silent, firstRunMs: 10, everyMs: 60_000, now: () => NOW });
    try {
      await until(async () => (await s.db.selectFrom('audit_log_archive').select('id').execute()).length === 1);
      expect((await s.audit.query()).map((r) => r.id)).toEqual(['new', 'old']); // still queryable
      expect((await s.db.selectFrom('audit_log').select('id').execute()).map((r) => r.id)).toEqual(['new']);
      await until(async () => (await s.tokens.findByHash(hashToken('long-expired'))) === null);
      expect(await s.tokens.findByHash(hashToken('just-expired'))).not.toBeNull(); // still answers TOKEN_EXPIRED
      const again = await job.runNow();
      expect(again).toEqual({ archived: 0, cutoff: new Date(NOW.getTime() - 90 * DAY).toISOString(), expiredTokensDeleted: 0, errors: [] });
    } finally {
      await job.stop();
    }
  });
});

describe('housekeeping timers', () => {
  it('run once after the first delay, then on every interval; runs never overlap; stop clears them', async () => {
    let runs = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const storage = {
      audit: {
        archiveOlderThan: async () => {
          runs++;
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await new Promise((r) => setTimeout(r, 15));
          inFlight--;
          return 0;
        },
      },
      tokens: { deleteExpired: () => Promise.resolve(0) },
    } as unknown as Storage;
    const job = startHousekeeping({ storage, logger: silent, firstRunMs: 20, everyMs: 25 });
    await new Promise((r) => setTimeout(r, 10));
    expect(runs).toBe(0);
    await until(() => runs >= 3);
    await Promise.all([job.runNow(), job.runNow()]);
    expect(maxInFlight).toBe(1);
    await job.stop();
    const after = runs;
    await new Promise((r) => setTimeout(r, 80));
    expect(runs).toBe(after);
  });

  it('a failing store is logged and the next run tries again; nothing is thrown', async () => {
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    let fail = true;
    const storage = {
      audit: {
        archiveOlderThan: () => (fail ? Promise.reject(new Error('connection refused')) : Promise.resolve(2)),
      },
      tokens: {
        deleteExpired: () => Promise.reject(new Error('connection refused')),
      },
    } as unknown as Storage;
    const job = startHousekeeping({ storage, logger, firstRunMs: 60_000 });
    try {
      const first = await job.runNow();
      expect(first.archived).toBeNull();
      expect(first.errors).toEqual(['audit archive: connection refused', 'expired tokens: connection refused']);
      expect(logged.join('\n')).toContain('the daily audit archive failed');
      fail = false;
      expect((await job.runNow()).archived).toBe(2);
    } finally {
      await job.stop();
    }
  });
});
