import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalSha256 } from '@mosaic/federation-core';
import { baseFastifyOptions, installCommonHooks } from '../http.js';
import { openStorage, type Storage } from '../storage/index.js';
import { describeEachEngine } from '../test-support/engines.js';
import { openAuditPipeline, registerAuditRoutes, resolveSince, type AuditPipeline, type AuditRoutes } from './index.js';
import { entry, removeTempDirs, tempDir } from './test-helpers.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  removeTempDirs();
});

async function setup(storage: Storage, dataDir = tempDir()): Promise<{ app: FastifyInstance; url: string; audit: AuditPipeline; routes: AuditRoutes }> {
  const audit = openAuditPipeline({ dataDir, storage, shipper: { delayMs: 5 } });
  const app = Fastify({ ...baseFastifyOptions(), forceCloseConnections: 'idle' }) as unknown as FastifyInstance;
  installCommonHooks(app);
  const routes = registerAuditRoutes(app, { storage, spool: audit.spool, tail: audit.tail, heartbeatMs: 200 });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    await app.close();
    await audit.close();
  });
  return { app, url, audit, routes };
}

/** A real SSE connection: parsed events, comments, and the socket to cut. */
function connect(url: string, lastEventId?: string) {
  const events: { id: string; data: unknown }[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  let ended = false;
  let res: IncomingMessage | undefined;
  const req = request(`${url}/api/admin/audit/stream`, { headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId } });
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (r) => {
      res = r;
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: string | undefined;
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data = line.slice(6);
            else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
          }
          if (id !== undefined && data !== undefined) events.push({ id, data: JSON.parse(data) });
        }
      });
      r.on('end', () => (ended = true));
      r.on('error', () => undefined);
      resolve(r);
    });
    req.on('error', reject);
  });
  req.end();
  return {
    events,
    comments,
    ready,
    get retry() {
      return retry;
    },
    get ended() {
      return ended;
    },
    get status() {
      return res?.statusCode;
    },
    cut: () => req.destroy(),
  };
}

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are checked by the assertions
async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describeEachEngine('audit routes', (engine) => {
  it('GET /api/admin/audit filters, newest first; a bad filter is a 400 naming the field', async () => {
    const storage = await engine.open();
    const { url, audit } = await setup(storage);
    const grant = randomUUID();
    await audit.spool.append(entry({ peer: 'bob', verb: 'list', outcome: 'allowed', grantId: grant, requestId: 'a' }));
    await audit.spool.append(entry({ peer: 'carol', verb: 'get', outcome: 'denied', statusCode: 404, requestId: 'b' }));
    await audit.spool.append(entry({ peer: 'bob', verb: 'search', outcome: 'rate_limited', statusCode: 429, requestId: 'c' }));
    await audit.spool.append(entry({ peer: 'bob', verb: 'list', outcome: 'error', statusCode: 500, requestId: 'd', at: new Date(Date.now() - 3_600_000) }));
    await audit.shipper.flush();
    const base = `${url}/api/admin/audit`;
    const ids = (b: unknown) => (b as { items: { requestId: string }[] }).items.map((r) => r.requestId);
    expect(ids((await get(base)).body)).toEqual(['c', 'b', 'a', 'd']);
    expect(ids((await get(`${base}?peer=bob`)).body)).toEqual(['c', 'a', 'd']);
    expect(ids((await get(`${base}?verb=list`)).body)).toEqual(['a', 'd']);
    expect(ids((await get(`${base}?outcome=denied`)).body)).toEqual(['b']);
    expect(ids((await get(`${base}?grant=${grant}`)).body)).toEqual(['a']);
    expect(ids((await get(`${base}?since=15m`)).body)).toEqual(['c', 'b', 'a']);
    expect(ids((await get(`${base}?since=${encodeURIComponent(new Date(Date.now() - 7_200_000).toISOString())}&limit=2`)).body)).toEqual(['c', 'b']);
    const row = (await get(`${base}?limit=1`)).body.items[0];
    expect(Object.keys(row as object)).not.toContain('hash');
    expect(row.prevHash).toMatch(/^[0-9a-f]{64}$/);
    for (const bad of ['since=yesterday', 'limit=0', 'outcome=maybe', 'grant=x', 'verb=DROP%20TABLE', 'bogus=1']) {
      const r = await get(`${base}?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(r.body.error.details)).toContain(bad.split('=')[0]);
    }
  });

  it('streams rows over SSE, resumes with Last-Event-ID without gap or repeat, and closes on shutdown', async () => {
    const storage = await engine.open();
    const { app, url, audit, routes } = await setup(storage);
    await audit.spool.append(entry({ requestId: 'before' }));
    await audit.shipper.flush();
    const first = connect(url);
    const res = await first.ready;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    await until(() => first.retry !== undefined && routes.openStreams() === 1);
    const t0 = Date.now();
    const written = [];
    for (let i = 0; i < 5; i++) written.push(await audit.spool.append(entry({ requestId: `live-${i}` })));
    await until(() => first.events.length === 5, 1_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    // A fresh stream starts at the live tail: the row from before is not replayed.
    expect(first.events.map((e) => e.id)).toEqual(written.map((r) => r.id));
    await until(() => first.comments.includes('heartbeat'), 1_000);
    first.cut();
    await until(() => routes.openStreams() === 0);
    const missed = [];
    for (let i = 0; i < 7; i++) missed.push(await audit.spool.append(entry({ requestId: `missed-${i}` })));
    await audit.shipper.flush();
    const second = connect(url, first.events.at(-1)!.id);
    await second.ready;
    await until(() => second.events.length === 7);
    const after = await audit.spool.append(entry({ requestId: 'after' }));
    await until(() => second.events.length === 8, 1_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(second.events.map((e) => e.id)).toEqual([...missed, after].map((r) => r.id));
    expect(second.events[0]!.data).toMatchObject({ requestId: 'missed-0', verb: 'list' });
    await app.close();
    await until(() => second.ended);
    expect(routes.openStreams()).toBe(0);
  });
});

describe('audit verify and the store', () => {
  it('reports an edited and a deleted row where the chain breaks', async () => {
    const dataDir = tempDir();
    const storage = await openStorage({ dataDir });
    closers.push(() => storage.close());
    const { url, audit } = await setup(storage, dataDir);
    const rows = [];
    for (let i = 0; i < 10; i++) rows.push(await audit.spool.append(entry({ requestId: `r${i}` })));
    await audit.shipper.flush();
    expect((await get(`${url}/api/admin/audit/verify`)).body).toEqual({ ok: true, spools: [{ spool: audit.spool.id, rows: 10, chained: true }] });
    const db = new DatabaseSync(join(dataDir, 'gateway.db'));
    try {
      db.prepare('UPDATE audit_log SET rows_out = 999 WHERE id = ?').run(rows[6]!.id);
      expect((await get(`${url}/api/admin/audit/verify`)).body).toMatchObject({ ok: false, spools: [{ firstBreak: { id: rows[6]!.id, reason: 'edited' } }] });
      db.prepare('DELETE FROM audit_log WHERE id = ?').run(rows[3]!.id);
      expect((await get(`${url}/api/admin/audit/verify`)).body).toMatchObject({ ok: false, spools: [{ rows: 9, firstBreak: { id: rows[4]!.id, reason: 'missing' } }] });
    } finally {
      db.close();
    }
  });

  it('reports the newest rows deleted, which no later row could show', async () => {
    const dataDir = tempDir();
    const storage = await openStorage({ dataDir });
    closers.push(() => storage.close());
    const { url, audit } = await setup(storage, dataDir);
    const rows = [];
    for (let i = 0; i < 4; i++) rows.push(await audit.spool.append(entry({ requestId: `r${i}` })));
    await audit.shipper.flush();
    const db = new DatabaseSync(join(dataDir, 'gateway.db'));
    try {
      db.prepare('DELETE FROM audit_log WHERE id IN (?, ?)').run(rows[2]!.id, rows[3]!.id);
    } finally {
      db.close();
    }
    expect((await get(`${url}/api/admin/audit/verify`)).body).toMatchObject({ ok: false, spools: [{ rows: 2, firstBreak: { id: rows[3]!.id, reason: 'missing' } }] });
  });

  it('never stores query text: a marker sent only in the query parameters is in no file', async () => {
    const dataDir = tempDir();
    const storage = await openStorage({ dataDir });
    closers.push(() => storage.close());
    const { audit } = await setup(storage, dataDir);
    const marker = `MARKER-${randomUUID()}`;
    const params = { resource: 'tasks', q: marker };
    await audit.spool.append(entry({ queryHash: canonicalSha256(params) }));
    await audit.shipper.flush();
    for (const name of readdirSync(dataDir)) {
      if (!/\.db(-wal)?$/.test(name)) continue;
      expect(readFileSync(join(dataDir, name)).includes(marker), name).toBe(false);
    }
  });

  it('resolves durations back from now', () => {
    expect(resolveSince('90s', Date.parse('2030-01-01T00:00:00Z'))).toBe('2029-12-31T23:58:30.000Z');
    expect(resolveSince('30d', Date.parse('2030-01-31T00:00:00Z'))).toBe('2030-01-01T00:00:00.000Z');
    expect(resolveSince('2030-01-01T00:00:00Z')).toBe('2030-01-01T00:00:00Z');
  });
});
