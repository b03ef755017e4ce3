import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openStorage, SQLITE_BUSY_TIMEOUT_MS, type Storage } from './index.js';
import { isSqliteExperimentalWarning, withoutSqliteExperimentalWarning } from './sqlite.js';

const dirs: string[] = [];
const stores: Storage[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mosaic-sqlite-'));
  dirs.push(d);
  return d;
}

describe('the embedded engine (node:sqlite)', () => {
  it('creates <dataDir>/gateway.db (dir 0700, file 0600) in WAL mode with foreign keys and a busy timeout', async () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const s = await openStorage({ dataDir });
    stores.push(s);
    expect(s.engine).toBe('sqlite');
    expect(s.location).toBe(join(dataDir, 'gateway.db'));
    expect(s.describe()).toBe(`SQLite ${join(dataDir, 'gateway.db')}`);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(s.location).mode & 0o777).toBe(0o600);
    const pragma = async (name: string): Promise<unknown> => Object.values((await sql.raw(`pragma ${name}`).execute(s.db)).rows[0] as object)[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('foreign_keys')).toBe(1);
    expect(await pragma('busy_timeout')).toBe(SQLITE_BUSY_TIMEOUT_MS);
    expect(await pragma('synchronous')).toBe(1); // NORMAL
    await s.ping();
  });

  it('reports an unusable data dir as STORAGE_UNAVAILABLE', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    await expect(openStorage({ dataDir: join(file, 'sub') })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', statusCode: 503 });
  });

  it('drops only node:sqlite’s ExperimentalWarning while loading it, and restores emitWarning', () => {
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const result = withoutSqliteExperimentalWarning(() => {
        process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
        process.emitWarning('VM Modules is an experimental feature', 'ExperimentalWarning');
        process.emitWarning('SQLite is slow today', 'DeprecationWarning');
        process.emitWarning('something else', { type: 'Warning' });
        return 42;
      });
      expect(result).toBe(42);
      expect(spy.mock.calls.map((c) => c[0])).toEqual(['VM Modules is an experimental feature', 'SQLite is slow today', 'something else']);
      expect(Reflect.get(process, 'emitWarning')).toBe(spy); // restored to what it was
    } finally {
      spy.mockRestore();
    }
  });

  it.each([
    ['SQLite is an experimental feature and might change at any time', 'ExperimentalWarning', true],
    ['SQLite is an experimental feature', { type: 'ExperimentalWarning' }, true],
    ['WASI is an experimental feature', 'ExperimentalWarning', false],
    ['SQLite is an experimental feature', 'Warning', false],
  ])('isSqliteExperimentalWarning(%j, %j) → %s', (message, type, expected) => {
    expect(isSqliteExperimentalWarning(message, type)).toBe(expected);
  });

  it('treats an Error warning by its name', () => {
    const e = new Error('SQLite is an experimental feature');
    e.name = 'ExperimentalWarning';
    expect(isSqliteExperimentalWarning(e, undefined)).toBe(true);
  });
});
