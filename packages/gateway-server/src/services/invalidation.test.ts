/**
 * `SharedInvalidation` on a real PostgreSQL: notifications inside the committing transaction
 * (delivered at commit, never on rollback), publishing while the LISTEN connection is down, the
 * heartbeat that finds a silently dead LISTEN connection (a TCP path that stops carrying bytes
 * without closing), resync before counting as connected, and `coalesced`.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../storage/index.js';
import { describeWithPostgres } from '../test-support/engines.js';
import { validateScope } from '@mosaic/federation-core';
import { FEDERATION_SEED } from '../test-support/federation.js';
import { GrantService } from './grants.js';
import { coalesced, SharedInvalidation, type InvalidationEvent } from './invalidation.js';
import { Revocation } from './revocation.js';

const logger = pino({ level: 'silent' });

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP relay to PostgreSQL that can go silent: bytes stop flowing both ways, nothing is closed. */
async function silentRelay(port: number): Promise<{ url(base: string): string; freeze(): void; thaw(): void; frozen: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = {
    frozen: false,
    freeze() {
      relay.frozen = true;
    },
    thaw() {
      relay.frozen = false;
    },
    url: (base: string) => base.replace(`:${port}/`, `:${(server.address() as AddressInfo).port}/`),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // frozen at the time of the bytes: dropped (a dead path, not a closed one)
    client.on('data', (d: Buffer) => relay.frozen || upstream.write(d));
    upstream.on('data', (d: Buffer) => relay.frozen || client.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return relay;
}

describe('coalesced', () => {
  it('runs once more after the run in flight, however many calls came meanwhile', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const fn = coalesced(async () => {
      runs++;
      await new Promise<void>((r) => (release = r));
    });
    const first = fn();
    const more = [fn(), fn(), fn(), fn()];
    expect(runs).toBe(1);
    release();
    await first;
    await until('the queued run to start', () => runs === 2);
    release();
    await Promise.all(more);
    expect(runs).toBe(2);
    // idle again: the next call runs at once
    const next = fn();
    expect(runs).toBe(3);
    release();
    await next;
  });
});

describeWithPostgres('SharedInvalidation on PostgreSQL', (server) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const o of open.reverse()) await o.close().catch(() => undefined);
  });

  async function replica(databaseUrl: string, scope: string, extra: { retryFirstMs?: number; send?: boolean; heartbeat?: { everyMs: number; deadAfterMs: number }; onResync?: () => Promise<void> } = {}) {
    const storage: Storage = await openStorage({ databaseUrl });
    open.push(storage);
    const events: InvalidationEvent[] = [];
    let resyncs = 0;
    const inv = new SharedInvalidation({
      databaseUrl,
      scope,
      logger,
      onEvent: (e) => events.push(e),
      onResync: async () => {
        resyncs++;
        await extra.onResync?.();
      },
      ...(extra.send === false ? {} : { send: (channel: string, payload: string) => storage.meta.notify(channel, payload) }),
      retryMs: { first: extra.retryFirstMs ?? 50, max: 2_000 },
      ...(extra.heartbeat ? { heartbeat: extra.heartbeat } : {}),
    });
    open.push(inv);
    await inv.start();
    return { storage, inv, events, resyncs: () => resyncs };
  }

  it('an event announced in a transaction arrives at commit, and never when it rolls back', async () => {
    const url = await server().createDatabase('inv');
    const a = await replica(url, 'pin-1');
    const b = await replica(url, 'pin-1');
    await until('b to listen', () => b.inv.connected);
    await expect(
      a.storage.transaction(async (tx) => {
        await a.inv.inTransaction(tx, [{ kind: 'tokens' }]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    let seenBeforeCommit = -1;
    await a.storage.transaction(async (tx) => {
      await a.inv.inTransaction(tx, [{ kind: 'revoked', serials: ['0a'] }, { kind: 'revoked', serials: [] }]);
      // still open: nothing delivered yet
      await new Promise((r) => setTimeout(r, 100));
      seenBeforeCommit = b.events.length;
    });
    await until('the committed event', () => b.events.length === 1);
    expect(seenBeforeCommit).toBe(0);
    expect(b.events).toEqual([{ kind: 'revoked', serials: ['0a'] }]);
    // the announcing replica skips its own; another deployment on the same database ignores it
    const other = await replica(url, 'pin-2');
    await until('the other deployment to listen', () => other.inv.connected);
    a.inv.publish({ kind: 'grant', grantId: 'g1' });
    await until('b to hear the grant', () => b.events.length === 2);
    expect(a.events).toEqual([]);
    expect(other.events).toEqual([]);
  });

  it('a user removal tells the other replicas only when its transaction commits (GrantService.revokeMany)', async () => {
    const url = await server().createDatabase('inv');
    const a = await replica(url, 'pin');
    const b = await replica(url, 'pin');
    await until('b to listen', () => b.inv.connected);
    await a.storage.directory.applySeed(FEDERATION_SEED);
    const grant = await a.storage.grants.create({ subjectUserId: 'bob', peerName: 'home', scope: validateScope({ resources: ['tasks'] }) });
    const revocation = new Revocation(a.storage, { invalidateCrl: () => undefined });
    const service = new GrantService({
      storage: a.storage,
      revocation,
      name: 'work',
      publicUrl: () => 'https://localhost',
      announce: (tx, events) => a.inv.inTransaction(tx, events),
      // as gateway.ts wires it: drop the local cache and tell the others
      onGrantChanged: (grantId) => a.inv.publish({ kind: 'grant', grantId }),
      // revokeMany uses neither: it runs in the caller's transaction
      ca: undefined as never,
      audit: undefined as never,
    });
    let heardBeforeCommit = -1;
    const serials = await a.storage.transaction(async (tx) => {
      await tx.directory.deleteUser('bob');
      const revoked = await service.revokeMany(tx, [grant.id], 'subject user bob was removed');
      // the transaction is still open: the other replica must not have been told yet
      await new Promise((r) => setTimeout(r, 150));
      heardBeforeCommit = b.events.length;
      return revoked;
    });
    service.revokedMany([grant.id], serials);
    expect(heardBeforeCommit).toBe(0);
    await until('b to hear the removal', () => b.events.some((e) => e.kind === 'grant-closed'));
    expect(b.events).toContainEqual({ kind: 'grant-closed', grantId: grant.id });
    expect(b.events).toContainEqual({ kind: 'grant', grantId: grant.id });
  });

  it('publishes through the pool while its own LISTEN connection is down', async () => {
    const url = await server().createDatabase('inv');
    const a = await replica(url, 'pin', { retryFirstMs: 1_500 });
    const b = await replica(url, 'pin', { retryFirstMs: 1_500 });
    await until('both to listen', () => a.inv.connected && b.inv.connected);
    // a's LISTEN connection goes away (the server kills it); a publishes at once, before it is back
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'mosaic-gateway-listen' and pid <> pg_backend_pid() and datname = current_database() and backend_start = (select min(backend_start) from pg_stat_activity where application_name = 'mosaic-gateway-listen' and datname = current_database())");
    } finally {
      await c.end();
    }
    await until('one replica to notice', () => !a.inv.connected || !b.inv.connected);
    const sender = a.inv.connected ? b : a;
    const listener = sender === a ? b : a;
    expect(sender.inv.connected).toBe(false);
    sender.inv.publish({ kind: 'tokens' });
    await until('the other replica to hear it', () => listener.events.some((e) => e.kind === 'tokens'), 1_000);
    expect(sender.inv.connected).toBe(false);
    await until('the killed connection to come back', () => sender.inv.connected);
    expect(sender.inv.reconnects).toBe(1);
  });

  it('counts as connected only after a successful resync — at the first connection too', async () => {
    const url = await server().createDatabase('inv');
    let fail = 2;
    const a = await replica(url, 'pin', {
      onResync: () => (fail-- > 0 ? Promise.reject(new Error('store busy')) : Promise.resolve()),
    });
    expect(a.inv.connected).toBe(false);
    await until('the third resync to succeed', () => a.inv.connected);
    expect(a.resyncs()).toBe(3);
  });

  it('a silently dead LISTEN connection (no echo of its heartbeat) counts as down and is replaced', async () => {
    const url = await server().createDatabase('inv');
    const relay = await silentRelay(server().port);
    open.push(relay);
    const viaRelay = relay.url(url);
    expect(viaRelay).not.toBe(url);
    // LISTEN through the relay; sends through the pool, directly
    const storage = await openStorage({ databaseUrl: url });
    open.push(storage);
    const events: InvalidationEvent[] = [];
    const inv = new SharedInvalidation({
      databaseUrl: viaRelay,
      scope: 'pin',
      logger,
      onEvent: (e) => events.push(e),
      onResync: () => Promise.resolve(),
      send: (channel, payload) => storage.meta.notify(channel, payload),
      retryMs: { first: 50, max: 200 },
      heartbeat: { everyMs: 100, deadAfterMs: 400 },
    });
    open.push(inv);
    await inv.start();
    expect(inv.connected).toBe(true);
    // a healthy connection keeps echoing: still up well past deadAfterMs
    await new Promise((r) => setTimeout(r, 800));
    expect(inv.connected).toBe(true);
    relay.freeze();
    const frozenAt = performance.now();
    await until('the dead connection to count as down', () => !inv.connected, 5_000);
    const detectedMs = performance.now() - frozenAt;
    expect(detectedMs).toBeLessThan(1_500);
    expect(inv.reconnects).toBe(0);
    // the path works again: a new connection replaces the dead one, and events flow through it
    relay.thaw();
    await until('a new LISTEN connection', () => inv.connected, 15_000);
    expect(inv.reconnects).toBe(1);
    await storage.transaction(async (tx) => tx.meta.notify('mosaic_invalidate', JSON.stringify({ o: 'elsewhere', s: 'pin', e: { kind: 'tokens' } })));
    await until('the event over the new connection', () => events.length === 1);
  });
});
