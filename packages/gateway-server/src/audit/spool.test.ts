import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { rowDigest, verifyChain } from './chain.js';
import { AuditSpool, AUDIT_SPOOL_FILE_NAME, type AuditDurability } from './spool.js';
import { entry, percentiles, removeTempDirs, tempDir, tsNodeArgs } from './test-helpers.js';

const spools: AuditSpool[] = [];
const open = (options: Parameters<typeof AuditSpool.open>[0]): AuditSpool => {
  const s = AuditSpool.open(options);
  spools.push(s);
  return s;
};

afterAll(async () => {
  await Promise.allSettled(spools.map((s) => s.close()));
  removeTempDirs();
});

/** Rows in a spool file, read by a second, independent handle. */
function rowsInFile(file: string): { id: string; hash: string; body: string }[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare('SELECT id, hash, body FROM spool_rows ORDER BY seq').all() as { id: string; hash: string; body: string }[];
  } finally {
    db.close();
  }
}

describe.each<AuditDurability>(['normal', 'full'])('AuditSpool (%s)', (durability) => {
  it('chains rows, fills ids and times, and keeps the spool id in the file', async () => {
    const dataDir = tempDir();
    const spool = open({ dataDir, durability });
    const a = await spool.append(entry({ requestId: 'r1' }));
    const b = await spool.append(entry({ requestId: 'r2' }));
    expect(a.prevHash).toBeNull();
    expect(a.hash).toBe(rowDigest(a));
    expect(b.prevHash).toBe(a.hash);
    expect(a.spool).toBe(spool.id);
    expect(a.id < b.id).toBe(true);
    expect(a.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(spool.backlog()).toBe(2);
    const id = spool.id;
    await spool.close();
    const again = open({ dataDir, durability });
    expect(again.id).toBe(id);
    const c = await again.append(entry({ requestId: 'r3' }));
    expect(c.prevHash).toBe(b.hash);
    expect(verifyChain([a, b, c], { expectFirstPrevHash: null }).ok).toBe(true);
  });

  it('has the row on disk when append resolves, seen by an independent handle while the first stays open', async () => {
    const dataDir = tempDir();
    const spool = open({ dataDir, durability });
    const rows = await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(entry({ requestId: `r${i}` }))));
    // A crash image: copy the database and its WAL while the writer is still open.
    const crash = tempDir();
    for (const suffix of ['', '-wal']) {
      const src = join(dataDir, AUDIT_SPOOL_FILE_NAME + suffix);
      if (existsSync(src)) copyFileSync(src, join(crash, AUDIT_SPOOL_FILE_NAME + suffix));
    }
    expect(rowsInFile(join(crash, AUDIT_SPOOL_FILE_NAME)).map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(rowsInFile(spool.file)).toHaveLength(50);
  });

  it('survives SIGKILL: every acknowledged row is in the file', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [...tsNodeArgs(join(import.meta.dirname, 'spool-child.fixture.ts')), dataDir, 'inf', durability], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const l of lines) if (l.startsWith('acked ')) acked.push(l.slice(6));
        if (acked.length >= 200) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const stored = new Set(rowsInFile(join(dataDir, AUDIT_SPOOL_FILE_NAME)).map((r) => r.id));
    for (const id of acked) expect(stored.has(id)).toBe(true);
    // The chain continues across the crash.
    const spool = open({ dataDir, durability });
    const next = await spool.append(entry());
    const all = rowsInFile(spool.file).map((r) => JSON.parse(r.body) as Parameters<typeof rowDigest>[0]);
    expect(all.at(-1)!.id).toBe(next.id);
    expect(verifyChain(all, { expectFirstPrevHash: null })).toEqual({ ok: true, rows: all.length });
  }, 60_000);

  it('refuses with AUDIT_UNAVAILABLE when the spool file cannot be opened, and recovers', async () => {
    const dataDir = tempDir();
    mkdirSync(join(dataDir, AUDIT_SPOOL_FILE_NAME)); // the file is a directory
    const spool = open({ dataDir, durability });
    expect(spool.status().available).toBe(false);
    await expect(spool.append(entry())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', statusCode: 503 });
    expect(spool.status().appendFailures).toBe(1);
    rmSync(join(dataDir, AUDIT_SPOOL_FILE_NAME), { recursive: true });
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(spool.append(entry())).resolves.toMatchObject({ prevHash: null });
    expect(spool.status().available).toBe(true);
  });

  it('refuses with AUDIT_UNAVAILABLE when the spool is full, and keeps the chain on durable rows', async () => {
    const dataDir = tempDir();
    const spool = open({ dataDir, durability, maxSizeBytes: 64 * 1024 });
    const written = [];
    let refused: unknown;
    for (let i = 0; i < 2_000 && refused === undefined; i++) {
      try {
        written.push(await spool.append(entry({ requestId: `r${i}`, resource: 'x'.repeat(60) })));
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect(written.length).toBeGreaterThan(10);
    // Shipping frees room; the next row chains onto the last durable one.
    const last = written.at(-1)!;
    const seq = spool.unshipped(10_000).at(-1)!.seq;
    await spool.markShipped(seq, written.length);
    const next = await spool.append(entry());
    expect(next.prevHash).toBe(last.hash);
  });

  it('a group commit that fails refuses every row in it, writes none, and the chain goes on from the last durable row', async () => {
    const dataDir = tempDir();
    const spool = open({ dataDir, durability, maxSizeBytes: 64 * 1024 });
    // Rows appended together (one turn of the event loop) share a transaction; keep sending
    // bursts until one overflows the spool mid-transaction.
    const settled: Array<{ id: string; ok: boolean }> = [];
    for (let burst = 0; burst < 200 && !settled.some((s) => !s.ok); burst++) {
      const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => spool.append(entry({ requestId: `b${burst}-${i}`, resource: 'x'.repeat(60) }))));
      results.forEach((r, i) => settled.push(r.status === 'fulfilled' ? { id: r.value.id, ok: true } : { id: `b${burst}-${i}`, ok: false }));
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'AUDIT_UNAVAILABLE', statusCode: 503 });
    }
    const refused = settled.filter((s) => !s.ok);
    expect(refused.length).toBeGreaterThan(1); // a whole transaction's rows, not one
    const inFile = rowsInFile(spool.file);
    // Exactly the acknowledged rows are in the file, as an unbroken chain.
    expect(inFile.map((r) => r.id)).toEqual(settled.filter((s) => s.ok).map((s) => s.id));
    const records = inFile.map((r) => JSON.parse(r.body) as Parameters<typeof rowDigest>[0]);
    expect(verifyChain(records, { expectFirstPrevHash: null })).toEqual({ ok: true, rows: records.length });
    expect(spool.status().appendFailures).toBe(refused.length);
    // Room again: the next row chains onto the last durable one, not onto a refused row.
    await spool.markShipped(spool.unshipped(10_000).at(-1)!.seq, records.length);
    const next = await spool.append(entry());
    expect(next.prevHash).toBe(inFile.at(-1)!.hash);
  });
});

describe('append cost', () => {
  it.each<AuditDurability>(['normal', 'full'])('%s: measured (p50/p99 printed)', async (durability) => {
    const spool = open({ dataDir: tempDir(), durability });
    for (let i = 0; i < 50; i++) await spool.append(entry());
    const samples: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const t = performance.now();
      await spool.append(entry({ requestId: `r${i}` }));
      samples.push(performance.now() - t);
    }
    // Concurrent appends share commits under FULL (group commit).
    const t = performance.now();
    await Promise.all(Array.from({ length: 1_000 }, (_, i) => spool.append(entry({ requestId: `c${i}` }))));
    const concurrentPerRow = (performance.now() - t) / 1_000;
    const { p50, p99 } = percentiles(samples);
    process.stderr.write(
      `audit spool ${durability}: sequential p50 ${(p50 * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs; 1000 concurrent: ${(concurrentPerRow * 1000).toFixed(1)} µs/row\n`,
    );
    expect(p50).toBeLessThan(50);
  });
});
