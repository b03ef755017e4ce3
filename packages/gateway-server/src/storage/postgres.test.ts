import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../test-support/engines.js';
import { postgresAvailability, startPostgres } from '../test-support/postgres.js';
import { describePostgresUrl, isPostgresUrl, openStorage, type Storage } from './index.js';

describe('describePostgresUrl never shows credentials', () => {
  it.each([
    ['postgres://mosaic:s3cret@db.example:6543/gateway', 'db.example:6543/gateway'],
    ['postgresql://mosaic:s3cret@db.example/gateway?sslmode=require', 'db.example:5432/gateway'],
    ['postgres://mosaic@/gateway?host=/run/postgresql', '/run/postgresql:5432/gateway'],
    ['postgres://mosaic:pw@127.0.0.1:5432', '127.0.0.1:5432/mosaic'],
    ['not a url with s3cret', '(unparseable DATABASE_URL)'],
    ['postgres://mosaic:p@ss@db.example/gateway', 'db.example:5432/gateway'],
  ])('%s → %s', (url, shown) => {
    expect(describePostgresUrl(url)).toBe(shown);
    expect(describePostgresUrl(url)).not.toContain('s3cret');
  });

  it.each([
    'postgres://mosaic:Xq9/s3cret@db.example.net/mosaic',
    'postgres://mosaic:Xq9?s3cret@db.example.net/mosaic',
    'postgres://mosaic:Xq9#s3cret@db.example.net/mosaic',
    'postgres://mosaic:12/345@db.example.net:5432/mosaic',
    'postgres://mosaic:Xq9@s3cret/Xq9@db.example.net/mosaic',
  ])('a password with an unencoded "/", "?" or "#" is not shown, not even in part: %s', (url) => {
    const shown = describePostgresUrl(url);
    expect(shown).toMatch(/^\(unparseable DATABASE_URL: percent-encode/);
    for (const part of ['Xq9', 's3cret', '345', '12']) expect(shown).not.toContain(part);
  });

  it('recognises PostgreSQL URLs', () => {
    expect(isPostgresUrl('postgres://x')).toBe(true);
    expect(isPostgresUrl('POSTGRESQL://x')).toBe(true);
    expect(isPostgresUrl('/var/lib/mosaic')).toBe(false);
  });
});

describe('an unreachable PostgreSQL', () => {
  it('fails fast with STORAGE_UNAVAILABLE, naming where but not the password', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 1));
      });
    });
    const err = (await openStorage({ databaseUrl: `postgres://mosaic:hunter2@127.0.0.1:${port}/gateway` }).catch((e: unknown) => e)) as Error & {
      code: string;
      statusCode: number;
    };
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
    expect(err.statusCode).toBe(503);
    expect(err.message).toContain(`PostgreSQL 127.0.0.1:${port}/gateway`);
    expect(err.message).not.toContain('hunter2');
  });
});

describeWithPostgres('the PostgreSQL engine', (server) => {
  const stores: Storage[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('runs on the harness’s server: loopback, fsync off, trust auth; describes itself without credentials', async () => {
    const s = await openStorage({ databaseUrl: await server().createDatabase('engine') });
    stores.push(s);
    expect(s.engine).toBe('postgres');
    expect(s.describe()).toMatch(/^PostgreSQL 127\.0\.0\.1:\d+\/engine_/);
    const setting = async (name: string): Promise<string> =>
      (await sql<{ v: string }>`select current_setting(${name}) as v`.execute(s.db)).rows[0]!.v;
    expect(await setting('fsync')).toBe('off');
    expect(await setting('listen_addresses')).toBe('127.0.0.1');
  });

  it('parses int8 to numbers, refusing values beyond 2^53', async () => {
    const s = await openStorage({ databaseUrl: await server().createSchema('int8') });
    stores.push(s);
    const row = (await sql<{ n: unknown; big: unknown }>`select count(*) as n, 9007199254740991::bigint as big`.execute(s.db)).rows[0]!;
    expect(row).toEqual({ n: 1, big: Number.MAX_SAFE_INTEGER });
    await expect(sql`select 9007199254740993::bigint as too_big`.execute(s.db)).rejects.toThrow(RangeError);
  });

  it('text columns use the bytewise "C" collation, so ids and timestamps order as on SQLite', async () => {
    const s = await openStorage({ databaseUrl: await server().createSchema('collation') });
    stores.push(s);
    await s.directory.applySeed({ users: ['b', 'B', 'a', 'A', '_', 'é'].map((id) => ({ id, name: id })) });
    expect((await s.directory.listUsers()).map((u) => u.id)).toEqual(['A', 'B', '_', 'a', 'b', 'é']);
  });
});

describe('the test harness', () => {
  const pg = postgresAvailability();
  it.skipIf(!pg.available || pg.mode !== 'local')('stops the server and removes its temp dir', async () => {
    const srv = await startPostgres(pg);
    expect(srv.dir).not.toBeNull();
    expect(existsSync(srv.dir!)).toBe(true);
    const url = await srv.createDatabase('gone');
    await srv.stop();
    await srv.stop(); // idempotent
    expect(existsSync(srv.dir!)).toBe(false);
    await expect(openStorage({ databaseUrl: url })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});
