// Acceptance, milestones M1 (a gateway boots on its storage, doctor tells its health) and M2
// (grants, enrollment, peers) — see docs/acceptance.md. Real `mosaic gateway start` processes
// driven with the `mosaic` CLI; M1.1 against a real PostgreSQL and redis-server.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openText, parseMasterSecret, SealKey, type DoctorReport, type Grant, type Peer } from '@mosaic/federation-core';
import { postgresAvailability, startPostgres, type PostgresServer } from '@mosaic/gateway-server/test-support/postgres';
import { redisAvailability, startRedis, type RedisServer } from '@mosaic/gateway-server/test-support/redis';
import { acceptanceHome, addPeer, BIN, createGrant, filesContaining, ids, issueToken, link, openssl, query, seed, startGateway, withStore, type Gateway } from '../test-support/acceptance.js';
import { HOME_SEED, WORK_SEED } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-m1m2-');
let work: Gateway;
let homeGw: Gateway;

beforeAll(async () => {
  [work, homeGw] = await Promise.all([startGateway(home, 'work'), startGateway(home, 'home')]);
  seed(work, WORK_SEED);
  seed(homeGw, HOME_SEED);
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  home.cleanup();
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

const pgAvailable = postgresAvailability().available;
const redisAvailable = redisAvailability().available;

// Without PostgreSQL or redis-server on a workstation these are skipped; in CI (.ci/run installs both) they fail.
describe.runIf((pgAvailable && redisAvailable) || process.env.CI === 'true')('M1 on PostgreSQL + Redis (the shared-storage mode)', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let shared: Gateway;
  const sharedHome = acceptanceHome('mosaic-acc-m1pg-');

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const databaseUrl = await pg.createDatabase('acceptance');
    shared = await startGateway(sharedHome, 'work-pg', { env: { DATABASE_URL: databaseUrl, REDIS_URL: redis.url } });
  }, 90_000);

  afterAll(async () => {
    await shared?.stop();
    await Promise.all([pg?.stop(), redis?.stop()]);
    sharedHome.cleanup();
  });

  it('M1.1 a gateway boots on PostgreSQL + Redis (DATABASE_URL, REDIS_URL) and serves: seed, grant, query through the CLI', () => {
    const started = JSON.parse(readFileSync(join(shared.dataDir, 'gateway.json'), 'utf8')) as { name: string; adminUrl: string };
    expect(started).toMatchObject({ name: 'work-pg', adminUrl: shared.adminUrl });
    const status = shared.json<{ status: { name: string; storage: { engine: string } } }>(['federation', 'status']);
    expect(status.status).toMatchObject({ name: 'work-pg', storage: { engine: 'postgres' } });
    seed(shared, WORK_SEED);
    const grant = createGrant(shared, { user: 'alice', peer: 'home', scope: { resources: ['tasks'] } });
    expect(grant.status).toBe('pending');
    const local = query(shared, 'list', 'tasks', undefined, { as: 'alice', source: 'local' });
    expect(local.code).toBe(0);
    expect(ids(local.answer)).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
  });

  it('M1.5 gateway doctor on PostgreSQL + Redis: the storage engine named, every check green (exit 0, also --strict)', async () => {
    // the limiter connects to Redis in the background: wait for its check to turn green
    const deadline = Date.now() + 10_000;
    let report = shared.json<DoctorReport>(['gateway', 'doctor']);
    while (report.status !== 'green' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      report = shared.json<DoctorReport>(['gateway', 'doctor']);
    }
    expect(report.status).toBe('green');
    expect(report.checks.find((c) => c.id === 'storage.reachable')).toMatchObject({ status: 'green', message: expect.stringMatching(/PostgreSQL/) });
    expect(report.checks.find((c) => c.id === 'redis.reachable')).toMatchObject({ status: 'green' });
    const human = shared.cli(['gateway', 'doctor', '--strict']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^✔ storage\.reachable +PostgreSQL/m);
    expect(human.stdout).toMatch(/^✔ redis\.reachable /m);
    expect(human.stdout).toMatch(/^all \d+ checks green$/m);
  });
});

describe('M1 — a gateway on its own', () => {
  it('M1.2 with DATABASE_URL pointing where no PostgreSQL listens, gateway start refuses to run: fails fast with a clear error, leaves no gateway.json', async () => {
    const port = await closedPort();
    const dataDir = join(home.dir, 'no-db');
    const started = Date.now();
    const r = spawnSync(process.execPath, [BIN, 'gateway', 'start', '--name', 'no-db', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0'], {
      env: { ...home.env, DATABASE_URL: `postgres://mosaic@127.0.0.1:${port}/mosaic`, MOSAIC_SECRET: work.secret },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const ms = Date.now() - started;
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull(); // it exited by itself, not by our timeout
    expect(ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/^error: .*(PostgreSQL|database).*/im);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one line and a hint, no stack
    expect(existsSync(join(dataDir, 'gateway.json'))).toBe(false);
  });

  it('M1.5 gateway doctor (embedded SQLite): the storage engine named, every check green, exit 0 with --strict; --json is the report', () => {
    const r = work.cli(['gateway', 'doctor', '--strict']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ storage\.reachable +SQLite /m);
    expect(r.stdout).toMatch(/^✔ ca\.key_sealed /m);
    expect(r.stdout).toMatch(/^all \d+ checks green$/m);
    const report = work.json<DoctorReport>(['gateway', 'doctor']);
    expect(report.status).toBe('green');
    expect(report.checks.every((c) => c.status === 'green')).toBe(true);
  });

  it('M1.6 standalone: a gateway with no peers answers its own users from its own store; --source all is local only, not partial', () => {
    const peers = work.json<{ items: Peer[] }>(['federation', 'peer', 'list']);
    expect(peers.items).toEqual([]);
    const r = query(work, 'list', 'tasks', undefined, { as: 'alice', source: 'all' });
    expect(r.code).toBe(0);
    expect(r.answer.partial).toBe(false);
    expect(r.answer.sources.map((s) => s.source)).toEqual(['local']);
    expect(ids(r.answer)).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
    expect(r.answer.items.every((i) => i._source === 'local')).toBe(true);
    const found = query(work, 'search', 'tasks', 'ship', { as: 'bob' });
    expect(ids(found.answer)).toEqual(['t1-1']);
    const human = work.cli(['federation', 'query', 'get', 'tasks', 'a-p1', '--as', 'alice']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^tasks\/a-p1 {2}from local\n {2}title {4}Ship the release notes$/m);
  });
});

describe('M2 — grants, enrollment, peers (work serves, home reads)', () => {
  it('M2.1 grant create writes a pending grant holding the scope as given', () => {
    const scope = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], filters: { tasks: { include_teams: ['T1'], include_personal: true } }, max_rows_per_query: 50 };
    const r = work.cli(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-', '--expires-in', '30d'], JSON.stringify(scope));
    expect(r.code).toBe(0);
    const id = /^✔ created grant ([0-9a-f-]{36}) \(alice → home\), pending$/m.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const grant = work.json<Grant>(['federation', 'grant', 'show', id!.slice(0, 8)]);
    expect(grant).toMatchObject({ id, status: 'pending', subjectUserId: 'alice', peerName: 'home', activatedAt: null, certSerial: null });
    expect(grant.scope).toMatchObject(scope);
    expect(Date.parse(grant.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const show = work.cli(['federation', 'grant', 'show', id!]);
    expect(show.stdout).toMatch(new RegExp(`^Grant ${id} {2}pending$`, 'm'));
  });

  it('M2.6 peer add <url> on home yields an active peer with a valid certificate (chained to the pinned CA) and its key', () => {
    const grant = createGrant(work, { user: 'alice', peer: 'home', scope: { resources: ['tasks', 'notes'] } });
    const token = issueToken(work, grant.id);
    const r = homeGw.cli(['federation', 'peer', 'add', '-', '--ca-pin', token.caPin, '--name', 'work'], `${token.enrollmentUrl}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Peer "work" is active \(local user alice; enrolled through https:\/\/127\.0\.0\.1:\d+\/api\/federation\/v1\/enroll\/<redacted>\)$/m);
    expect(r.stdout).not.toContain(token.token);
    const peer = homeGw.json<Peer>(['federation', 'peer', 'show', 'work']);
    expect(peer).toMatchObject({ name: 'work', state: 'active', localUserId: 'alice', subjectUserId: 'alice', grantId: grant.id, caPin: work.caPin });
    const inspect = homeGw.cli(['federation', 'peer', 'inspect', 'work']);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain('chain         ✔ the certificate is signed by the pinned CA');
    expect(inspect.stdout).toContain(`grant id      ${grant.id}  (1.3.6.1.4.1.99999.1)  ✔ the peer’s grant`);
    // the serving side sees the grant active with the same serial
    const after = work.json<Grant>(['federation', 'grant', 'show', grant.id]);
    expect(after.status).toBe('active');
    expect(after.certSerial!.replace(/^0+/, '')).toBe(peer.certSerial.replace(/^0+/, ''));
    // and the link works: work's rows reach home
    expect(ids(query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work' }).answer)).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
  });

  it("M2.5 the peer's private key is sealed at rest: the raw store holds ciphertext, no file of home's data dir holds a PEM key; home's master secret opens it to the certificate's key", () => {
    const peer = homeGw.json<Peer>(['federation', 'peer', 'show', 'work']);
    const row = withStore(homeGw, (db) => db.prepare('SELECT sealed_key, cert_pem FROM peers WHERE name = ?').get('work') as { sealed_key: string; cert_pem: string });
    expect(row.sealed_key).not.toMatch(/BEGIN|PRIVATE KEY/);
    expect(row.sealed_key).toMatch(/^[A-Za-z0-9+/_-]+=*$/);
    expect(filesContaining(homeGw.dataDir, 'PRIVATE KEY')).toEqual([]);
    // the ciphertext is the key of the peer's certificate: opened with home's master secret, bound to the peer's record
    const keyPem = openText(SealKey.fromMaster(parseMasterSecret(homeGw.secret)), row.sealed_key, { recordId: `peer/${peer.name}` }).toString('utf8');
    const dir = join(home.dir, 'm2.5');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), row.cert_pem);
    expect(openssl(['pkey', '-in', join(dir, 'key.pem'), '-pubout'])).toBe(openssl(['x509', '-in', join(dir, 'cert.pem'), '-noout', '-pubkey']));
    // under another master secret the same bytes open nothing
    expect(() => openText(SealKey.fromMaster(parseMasterSecret(work.secret)), row.sealed_key, { recordId: `peer/${peer.name}` })).toThrow();
  });

  it('M2.7 a scope naming an unknown resource is refused at grant create (exit 2, SCOPE_INVALID with the path); nothing is created', () => {
    const before = work.json<{ items: Grant[] }>(['federation', 'grant', 'list']).items.length;
    const r = work.cli(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-'], JSON.stringify({ resources: ['tasks', 'calendars'] }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: invalid scope/m);
    expect(r.stderr).toMatch(/^ {2}resources\[1\]: "calendars" is not a known resource/m);
    const json = work.cli(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-', '--json'], JSON.stringify({ resources: ['tasks'], excluded_resources: ['wallets'] }));
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'SCOPE_INVALID' } });
    expect(work.json<{ items: Grant[] }>(['federation', 'grant', 'list']).items.length).toBe(before);
  });

  it('M2.8 grant list and peer list show pending, active and revoked accurately (table and --status filter)', () => {
    const pending = createGrant(work, { user: 'bob', peer: 'lab', scope: { resources: ['tasks'] } });
    const active = link(work, homeGw, { user: 'bob', scope: { resources: ['tasks'] }, name: 'work-bob', localUser: 'bob' });
    const gone = link(work, homeGw, { user: 'dan', scope: { resources: ['tasks'] }, name: 'work-dan', localUser: 'dan' });
    expect(work.cli(['federation', 'grant', 'revoke', gone.grant.id, '--yes', '--reason', 'acceptance']).code).toBe(0);
    // home learns of the revocation on its next call to work (the handshake is refused, work's CRL says why)
    query(homeGw, 'search', 'tasks', 'anything', { as: 'dan', source: 'federated:work-dan' });

    const table = work.cli(['federation', 'grant', 'list']).stdout.split('\n');
    const line = (id: string) => table.find((l) => l.startsWith(`${id.slice(0, 8)}…`));
    expect(line(pending.id)).toMatch(/^\S+ pending\s+bob\s+lab\s/);
    expect(line(active.grant.id)).toMatch(/^\S+ active\s+bob\s+home\s/);
    expect(line(gone.grant.id)).toMatch(/^\S+ revoked\s+dan\s+home\s/);
    const revoked = work.json<{ items: Grant[] }>(['federation', 'grant', 'list', '--status', 'revoked']).items.map((g) => g.id);
    expect(revoked).toContain(gone.grant.id);
    expect(revoked).not.toContain(active.grant.id);
    expect(work.json<{ items: Grant[] }>(['federation', 'grant', 'list', '--status', 'pending']).items.map((g) => g.id)).toContain(pending.id);

    const peers = homeGw.cli(['federation', 'peer', 'list']).stdout;
    expect(peers).toMatch(/^work-bob\s+active\s+bob\s/m);
    expect(peers).toMatch(/^work-dan\s+revoked\s+dan\s/m);
    const states = Object.fromEntries(homeGw.json<{ items: Peer[] }>(['federation', 'peer', 'list']).items.map((p) => [p.name, p.state]));
    expect(states).toMatchObject({ 'work-bob': 'active', 'work-dan': 'revoked' });
  });

  it('M2.3 a spent enrollment URL: a second peer add is refused (already used) and stores nothing on home', () => {
    const grant = createGrant(work, { user: 'alice', peer: 'home', scope: { resources: ['notes'] } });
    const token = issueToken(work, grant.id);
    expect(addPeer(homeGw, token.enrollmentUrl, token.caPin, { name: 'work-notes' }).state).toBe('active');
    const again = homeGw.cli(['federation', 'peer', 'add', '-', '--ca-pin', token.caPin, '--name', 'work-notes-2'], `${token.enrollmentUrl}\n`);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: the enrollment token was already used/m);
    expect(homeGw.json<{ items: Peer[] }>(['federation', 'peer', 'list']).items.map((p) => p.name)).not.toContain('work-notes-2');
  });
});
