import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, expect, it } from 'vitest';
import type { Storage } from '../storage/index.js';
import { describeEachEngine } from '../test-support/engines.js';
import { verifyChain } from './chain.js';
import { AuditShipper } from './shipper.js';
import { AuditSpool } from './spool.js';
import { entry, percentiles, removeTempDirs, tempDir, tsNodeArgs } from './test-helpers.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  removeTempDirs();
});

function pipeline(storage: Pick<Storage, 'audit'>, dataDir = tempDir(), options: Partial<ConstructorParameters<typeof AuditShipper>[0]> = {}) {
  const spool = AuditSpool.open({ dataDir });
  const shipper = new AuditShipper({ spool, storage, minBackoffMs: 20, maxBackoffMs: 100, delayMs: 5, ...options });
  closers.push(async () => {
    await shipper.stop();
    await spool.close();
  });
  return { spool, shipper, dataDir };
}

/** A main store that fails (or hangs) while `mode` says so. */
function flakyStore(real: Storage) {
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang', calls: 0, release: [] as Array<() => void> };
  const audit = {
    appendMany: async (rows: Parameters<Storage['audit']['appendMany']>[0]) => {
      state.calls++;
      if (state.mode === 'fail') throw new Error('store down');
      if (state.mode === 'hang') await new Promise<void>((r) => state.release.push(r));
      return real.audit.appendMany(rows);
    },
  };
  return { state, storage: { audit } as unknown as Pick<Storage, 'audit'> };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describeEachEngine('audit shipper', (engine) => {
  it('ships rows to the main store in spool order, chained, and announces them', async () => {
    const storage = await engine.open();
    const { spool, shipper } = pipeline(storage);
    const announced: string[] = [];
    shipper.tail.on('rows', (rows) => announced.push(...rows.map((r) => r.id)));
    shipper.start();
    const written = [];
    for (let i = 0; i < 30; i++) written.push(await spool.append(entry({ requestId: `r${i}` })));
    await until(() => announced.length === 30);
    expect(shipper.backlog()).toBe(0);
    const chain = await storage.audit.chain(spool.id);
    expect(chain.map((r) => r.id)).toEqual(written.map((r) => r.id));
    expect(verifyChain(chain, { expectFirstPrevHash: null })).toEqual({ ok: true, rows: 30 });
    expect(announced).toEqual(written.map((r) => r.id));
    expect(shipper.counters()).toMatchObject({ shipped: 30, failures: 0, backlog: 0 });
    // Shipped rows leave the spool, but the newest stays as the chain's tail.
    expect(spool.unshipped(100)).toEqual([]);
    expect(spool.lastRow()?.id).toBe(written.at(-1)!.id);
  });

  it('loses nothing while the store fails, and append does not wait for it', async () => {
    const real = await engine.open();
    const { state, storage } = flakyStore(real);
    const { spool, shipper } = pipeline(storage, tempDir(), { shipTimeoutMs: 300 });
    shipper.start();
    const time = async (n: number, tag: string) => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await spool.append(entry({ requestId: `${tag}${i}` }));
        samples.push(performance.now() - t);
      }
      return percentiles(samples).p50;
    };
    const healthy = await time(300, 'h');
    await shipper.flush();
    state.mode = 'hang';
    await spool.append(entry({ requestId: 'first-while-hung' }));
    await until(() => state.release.length > 0);
    const hung = await time(300, 'x');
    state.mode = 'fail';
    const failing = await time(300, 'f');
    // Does not wait for the store: appends completed while a store call hangs and others fail.
    expect(state.release.length).toBeGreaterThan(0);
    expect(hung).toBeLessThan(Math.max(healthy * 5, 1));
    expect(failing).toBeLessThan(Math.max(healthy * 5, 1));
    await until(() => shipper.counters().failures > 0);
    expect(shipper.backlog()).toBeGreaterThanOrEqual(601);
    state.mode = 'ok';
    for (const r of state.release.splice(0)) r();
    await shipper.flush();
    expect(shipper.backlog()).toBe(0);
    expect(await real.audit.count()).toBe(901);
    const chain = await real.audit.chain(spool.id);
    expect(verifyChain(chain, { expectFirstPrevHash: null })).toEqual({ ok: true, rows: 901 });
  });

  it('ships exactly the rows a SIGKILLed process left in its spool', async () => {
    const storage = await engine.open();
    const dataDir = tempDir();
    const child = spawn(process.execPath, [...tsNodeArgs(join(import.meta.dirname, 'spool-child.fixture.ts')), dataDir, '137', 'normal'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.on('error', reject);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('done\n')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.once('exit', r));
    const { spool, shipper } = pipeline(storage, dataDir);
    expect(shipper.backlog()).toBe(137);
    shipper.start();
    await until(() => shipper.backlog() === 0);
    expect(await storage.audit.count()).toBe(137);
    // Shipping again (a crash between the store's commit and the spool's mark) adds nothing.
    expect(await storage.audit.appendMany((await storage.audit.chain(spool.id)).map(({ seq: _seq, ...r }) => r))).toBe(0);
  }, 60_000);

  it('flush ships everything now', async () => {
    const storage = await engine.open();
    const { spool, shipper } = pipeline(storage, tempDir(), { delayMs: 60_000, batchSize: 3, flushBatchSize: 7 });
    shipper.start();
    await shipper.flush();
    for (let i = 0; i < 50; i++) await spool.append(entry({ requestId: `r${i}` }));
    await shipper.flush();
    expect(await storage.audit.count()).toBe(50);
    // in flush's batches (7 rows), not the live ones (3)
    expect(shipper.counters().batches).toBe(8);
  });
});
