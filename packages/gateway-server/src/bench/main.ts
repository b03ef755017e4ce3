/**
 * `pnpm bench`: the gateway against the physical ceiling, every figure compared with a
 * reference measured in the same run (this machine is shared and noisy: ratios and medians,
 * interleaved rounds). Prints a table, or with `--json` one JSON document on stdout; progress
 * goes to stderr. `--quick`: a smoke run (≈ 30 s) with short rounds and small data.
 *
 *   node packages/gateway-server/dist/bench/main.js [--json] [--quick]
 *
 * Needs `pnpm build` (the CLI's and the TUI's dist), PostgreSQL binaries (initdb + postgres,
 * as the tests find them) and `openssl`. What each number means: docs/benchmarks.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { request } from 'undici';
import {
  createCsr,
  createRootCa,
  enrollWithPin,
  evaluateScope,
  exportPrivateKeyPem,
  generateKeyPair,
  generateMasterSecret,
  issueServerCertificate,
  validateScope,
} from '@mosaic/federation-core';
import { AuditSpool } from '../audit/spool.js';
import { GrantCache } from '../federation/grant-cache.js';
import { openStorage, SQLITE_FILE_NAME } from '../storage/index.js';
import { loadNodeSqlite } from '../storage/sqlite.js';
import { postgresAvailability, startPostgres, type PostgresServer } from '../test-support/postgres.js';
import {
  clientAgent,
  median,
  processCpuMs,
  percentile,
  rate,
  round,
  runLoad,
  sleep,
  startBareServer,
  startDelayProxy,
  startGatewayChild,
  type BareServer,
  type ClientCreds,
  type DelayProxy,
  type GatewayChild,
  type LoadResult,
} from './support.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../../..');
const CLI_BIN = join(ROOT, 'packages/cli/dist/bin.js');
const TUI_BENCH = join(ROOT, 'packages/tui/dist/bench/tui.bench.js');
const CLI_BENCH = join(ROOT, 'scripts/bench-cli.js');
const BARE_SERVER = join(HERE, 'bare-server.js');
const VERB_PATH = '/api/federation/v1/list/tasks';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--json' && a !== '--quick') {
    process.stderr.write(`bench: unknown option ${a}; use --json and/or --quick\n`);
    process.exit(2);
  }
}
const json = args.includes('--json');
const quick = args.includes('--quick');

/** Sizes of each part: full run (≤ 5 min on 2 cores) and `--quick` (a smoke test). */
const P = quick
  ? { peers: 6, slowPeers: 4, warmMs: 300, rounds: 1, roundMs: 600, opensslRuns: 5, slowRounds: 1, slowRoundMs: 800, sustainRate: 1500, sustainMs: 1500, killAfterMs: 600, spoolRows: 2000, grants: 1000, auditRows: 10_000, auditQueries: 5, cliRuns: 3 }
  : { peers: 32, slowPeers: 8, warmMs: 1500, rounds: 3, roundMs: 2500, opensslRuns: 21, slowRounds: 5, slowRoundMs: 4000, sustainRate: 5000, sustainMs: 10_000, killAfterMs: 2000, spoolRows: 5000, grants: 10_000, auditRows: 1_000_000, auditQueries: 21, cliRuns: 15 };
const CONCURRENCY = 32;

const benchStart = performance.now();
const log = (s: string): void => {
  process.stderr.write(`bench: [${((performance.now() - benchStart) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);
};

/** A one-line failure for the person running it (no stack trace). */
class BenchError extends Error {}

function preflight(): void {
  for (const [file, what] of [
    [CLI_BIN, 'the CLI build'],
    [TUI_BENCH, 'the TUI bench build'],
    [BARE_SERVER, 'the gateway-server build'],
  ] as const) {
    if (!existsSync(file)) throw new BenchError(`${what} (${file}) is missing: run \`pnpm build\` first`);
  }
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) throw new BenchError('openssl is not on PATH: install it (the enrollment comparison runs `openssl req`)');
  const pgAvail = postgresAvailability();
  if (!pgAvail.available) throw new BenchError(`PostgreSQL is needed (the audit and scale parts): ${pgAvail.reason}`);
}

const latencyFigures = (r: LoadResult[]) => {
  const all = r.flatMap((x) => x.latencies);
  const ok = r.reduce((a, x) => a + x.ok, 0);
  const ms = r.reduce((a, x) => a + x.elapsedMs, 0);
  return {
    reqPerSec: round((ok * 1000) / ms, 0),
    p50Ms: round(percentile(all, 50)),
    p99Ms: round(percentile(all, 99)),
    answered: ok,
    non2xx: r.reduce((a, x) => a + x.non2xx, 0),
    failed: r.reduce((a, x) => a + x.failed, 0),
  };
};

/**
 * Interleaved rounds of the gateway and the bare server (the order flips every round): the
 * throughput ratio, and each server's CPU time per answered request (its process's, from
 * procfs) — a figure other load on the machine hardly moves.
 */
async function compare(label: string, target: { gw: { url: string; pid: number | undefined }; bare: { url: string; pid: number | undefined } }, creds: ClientCreds[], newConnectionPerRequest: boolean, reference = 'bare') {
  const results = { gw: [] as LoadResult[], bare: [] as LoadResult[] };
  const cpuMs = { gw: 0, bare: 0 };
  let cpuKnown = true;
  const ratios: number[] = [];
  for (const which of ['gw', 'bare'] as const) await runLoad({ url: `${target[which].url}${VERB_PATH}`, creds, concurrency: CONCURRENCY, durationMs: P.warmMs, newConnectionPerRequest });
  for (let r = 0; r < P.rounds; r++) {
    const order = r % 2 === 0 ? (['gw', 'bare'] as const) : (['bare', 'gw'] as const);
    for (const which of order) {
      const before = processCpuMs(target[which].pid);
      results[which].push(await runLoad({ url: `${target[which].url}${VERB_PATH}`, creds, concurrency: CONCURRENCY, durationMs: P.roundMs, newConnectionPerRequest }));
      const after = processCpuMs(target[which].pid);
      if (before === null || after === null) cpuKnown = false;
      else cpuMs[which] += after - before;
    }
    const g = results.gw.at(-1)!;
    const b = results.bare.at(-1)!;
    ratios.push(rate(g) / rate(b));
    log(`${label} round ${r + 1}/${P.rounds}: gateway ${Math.round(rate(g))} req/s, ${reference} ${Math.round(rate(b))} req/s`);
  }
  const perRequest = (which: 'gw' | 'bare') => (cpuKnown ? round((cpuMs[which] * 1000) / Math.max(1, results[which].reduce((a, x) => a + x.ok + x.non2xx, 0)), 0) : null);
  const gwCpu = perRequest('gw');
  const bareCpu = perRequest('bare');
  return {
    ratio: round(median(ratios)),
    roundRatios: ratios.map((x) => round(x)),
    /** bare CPU per request ÷ the gateway's: the throughput ratio the gateway would reach if both were CPU-bound on equal cores. */
    cpuRatio: gwCpu !== null && bareCpu !== null && gwCpu > 0 ? round(bareCpu / gwCpu) : null,
    gateway: { ...latencyFigures(results.gw), cpuUsPerRequest: gwCpu },
    bare: { ...latencyFigures(results.bare), cpuUsPerRequest: bareCpu },
  };
}

/** The audit rows of a tagged load in the main store (by the caller's `x-request-id`), waiting for the shipper. */
async function waitRows(dataDir: string, tag: string, acknowledged: ReadonlySet<string>, timeoutMs: number) {
  const start = performance.now();
  const { DatabaseSync } = loadNodeSqlite();
  const db = new DatabaseSync(join(dataDir, SQLITE_FILE_NAME), { readOnly: true });
  const fetchIds = () => new Set((db.prepare('select caller_request_id as id from audit_log where caller_request_id like ?').all(`${tag}-%`) as Array<{ id: string }>).map((r) => r.id));
  let found = new Set<string>();
  try {
    for (;;) {
      found = fetchIds();
      if ([...acknowledged].every((id) => found.has(id)) || performance.now() - start > timeoutMs) break;
      await sleep(200);
    }
  } finally {
    db.close();
  }
  const missing = [...acknowledged].filter((id) => !found.has(id)).length;
  return { acknowledged: acknowledged.size, rows: found.size, lost: missing, shippedWithinMs: Math.round(performance.now() - start) };
}

/** A transaction shaped like one shipper batch (lock, archive lookup, 200-row insert, commit), ms. */
async function probeStore(url: string, runs: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('create temp table bench_probe (id text, at text)');
    const ids = Array.from({ length: 200 }, (_, i) => `probe-${i}`);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock_shared(4242, 4242)');
      await client.query('select id from audit_log_archive where id = any($1)', [ids]);
      await client.query(`insert into bench_probe select 'p' || g, now()::text from generate_series(1, 200) g`);
      await client.query('commit');
      samples.push(performance.now() - t0);
      await client.query('truncate bench_probe');
    }
    return median(samples);
  } finally {
    await client.end();
  }
}

/** Run a sibling bench (`--json`) and parse its one JSON document. */
async function childJson<T>(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  if (code !== 0) throw new BenchError(`${argv.map((a) => a.replace(ROOT + '/', '')).join(' ')} exited with ${code}: ${err.trim().split('\n').at(-1) ?? ''}`);
  return JSON.parse(out) as T;
}

/** Seed alice with 20 tasks; then `n` grants (rate limit at its maximum), each enrolled end to end and timed. */
async function seedAndEnroll(gw: GatewayChild, n: number) {
  await gw.admin.seed({
    users: [{ id: 'alice', name: 'Alice' }],
    resources: { tasks: Array.from({ length: 20 }, (_, i) => ({ id: `task-${i + 1}`, title: `Task ${i + 1}`, body: 'Benchmark row with a body of ordinary length.', ownerUserId: 'alice' })) },
  });
  const enrollMs: number[] = [];
  const peers: Array<{ certPem: string; keyPem: string; gatewayCaPem: string }> = [];
  for (let i = 0; i < n; i++) {
    const grant = await gw.admin.createGrant({ subjectUserId: 'alice', peerName: `bench-${i}`, scope: { resources: ['tasks'], rate_limit_per_minute: 6000 } });
    const token = await gw.admin.createToken(grant.id);
    const t0 = performance.now();
    const keys = await generateKeyPair({ extractable: true });
    const enrolled = await enrollWithPin(token.enrollmentUrl, token.caPin, await createCsr({ keys }));
    enrollMs.push(performance.now() - t0);
    peers.push({ certPem: enrolled.certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), gatewayCaPem: enrolled.caCertPem });
  }
  return { peers, enrollMs };
}

async function main(): Promise<Record<string, unknown>> {
  preflight();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}`, date: new Date().toISOString(), quick };
  const home = mkdtempSync(join(tmpdir(), 'mosaic-bench-'));
  let pgServer: PostgresServer | undefined;
  let proxy: DelayProxy | undefined;
  let gw: GatewayChild | undefined;
  let bare: BareServer | undefined;
  let db: pg.Pool | undefined;
  const killOnExit = () => gw?.child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    const baseEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'MOSAIC_DATA_DIR', 'MOSAIC_GATEWAY_URL', 'MOSAIC_ADMIN_TOKEN', 'MOSAIC_LOG_LEVEL']) delete baseEnv[k];
    const envFor = (dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      ...baseEnv,
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_DATA_HOME: join(dir, 'share'),
      MOSAIC_SECRET: generateMasterSecret(),
      NO_COLOR: '1',
      ...extra,
    });
    const env = envFor(join(home, 'embedded'));
    const dataDir = join(home, 'embedded', 'data');
    log('starting the gateway (embedded SQLite store, audit on)');
    gw = await startGatewayChild(CLI_BIN, dataDir, env);
    // --- 3. enrollment end to end (also makes the load's client certificates)
    log(`enrolling ${P.peers} peers (key + CSR + redeem + verify)`);
    const { peers, enrollMs } = await seedAndEnroll(gw, P.peers);
    log('keygen + CSR in process vs `openssl req -new -newkey ec` as a process');
    const csrMs: number[] = [];
    const opensslMs: number[] = [];
    for (let i = 0; i < P.opensslRuns + 2; i++) {
      let t0 = performance.now();
      await createCsr({ keys: await generateKeyPair() });
      const inProcess = performance.now() - t0;
      t0 = performance.now();
      const r = spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=bench', '-out', '/dev/null'], { stdio: 'ignore' });
      const openssl = performance.now() - t0;
      if (r.status !== 0) throw new BenchError('`openssl req -new -newkey ec` failed');
      if (i < 2) continue; // warm-up
      csrMs.push(inProcess);
      opensslMs.push(openssl);
    }

    // --- the bare reference server: same client certificates, a server cert of the same kind, the gateway's bytes
    const benchCa = await createRootCa({ commonName: 'Mosaic bench reference CA' });
    const serverKeys = await generateKeyPair({ extractable: true });
    const serverCert = await issueServerCertificate({ ca: benchCa, keys: serverKeys, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const creds: ClientCreds[] = peers.map((p) => ({ certPem: p.certPem, keyPem: p.keyPem, caPem: `${p.gatewayCaPem.trim()}\n${benchCa.cert.trim()}\n` }));
    const first = await (async () => {
      const agent = clientAgent(creds[0]!);
      try {
        const res = await request(`${gw.federationUrl}${VERB_PATH}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: '{}' });
        return { status: res.statusCode, contentType: String(res.headers['content-type']), body: await res.body.text() };
      } finally {
        await agent.close();
      }
    })();
    const listed = (JSON.parse(first.body) as { items?: unknown[] }).items?.length ?? 0;
    if (first.status !== 200 || listed !== 20) throw new BenchError(`list tasks answered ${first.status} with ${listed} rows, expected 200 with 20`);
    bare = await startBareServer(BARE_SERVER, { certPem: serverCert.certPem, keyPem: await exportPrivateKeyPem(serverKeys.privateKey), clientCaPem: peers[0]!.gatewayCaPem, body: first.body, contentType: first.contentType });

    // --- 1. verb throughput over keep-alive, 2. new handshakes
    log(`verb throughput: list tasks (20 rows, ${first.body.length} bytes), ${CONCURRENCY} keep-alive connections, ${P.rounds} interleaved rounds of ${P.roundMs} ms`);
    const servers = { gw: { url: gw.federationUrl, pid: gw.child.pid }, bare: { url: bare.url, pid: bare.pid } };
    const keepalive = await compare('keep-alive', servers, creds, false);
    log(`new handshakes: one request per connection, ${CONCURRENCY} at once`);
    const handshake = await compare('handshakes', servers, creds, true);
    await bare.stop();
    bare = undefined;
    // --- 1b. the same keep-alive load against the design's floor: one live read of the same rows
    // from the gateway's store and one durable audit write per request, nothing else
    log('verb throughput against the design floor (one live SQLite read + one group-committed audit write per request)');
    bare = await startBareServer(BARE_SERVER, {
      certPem: serverCert.certPem,
      keyPem: await exportPrivateKeyPem(serverKeys.privateKey),
      clientCaPem: peers[0]!.gatewayCaPem,
      body: first.body,
      contentType: first.contentType,
      floor: { dbFile: join(dataDir, SQLITE_FILE_NAME), auditDir: mkdtempSync(join(home, 'floor-')), ownerUserId: 'alice' },
    });
    const floor = await compare('keep-alive vs floor', { gw: servers.gw, bare: { url: bare.url, pid: bare.pid } }, creds, false, 'floor');
    await bare.stop();
    bare = undefined;

    // --- 4a. sustained load, every answer audited
    log(`sustained load: ${P.sustainRate} req/s asked for ${P.sustainMs / 1000} s, audit on`);
    const sustainAcked = new Set<string>();
    const sustain = await runLoad({ url: `${gw.federationUrl}${VERB_PATH}`, creds, concurrency: CONCURRENCY, durationMs: P.sustainMs, ratePerSecond: P.sustainRate, tag: 'sustain', answered: sustainAcked });
    const sustainRows = await waitRows(dataDir, 'sustain', sustainAcked, 60_000);
    log(`sustained: ${Math.round(rate(sustain))} req/s reached, ${sustainRows.acknowledged} answered, ${sustainRows.rows} rows, ${sustainRows.lost} lost`);

    // --- 4b. kill -9 mid-run, restart, rows == acknowledged answers
    log(`kill -9 of the gateway ${P.killAfterMs} ms into a load, then a restart on the same data dir`);
    const killAcked = new Set<string>();
    let killed = false;
    const killLoad = runLoad({ url: `${gw.federationUrl}${VERB_PATH}`, creds, concurrency: CONCURRENCY, durationMs: 120_000, tag: 'kill9', answered: killAcked, stop: () => killed });
    await sleep(P.killAfterMs);
    await gw.kill9();
    killed = true;
    await killLoad;
    const restartT0 = performance.now();
    gw = await startGatewayChild(CLI_BIN, dataDir, env);
    const restartMs = performance.now() - restartT0;
    const killRows = await waitRows(dataDir, 'kill9', killAcked, 60_000);
    log(`kill -9: ${killRows.acknowledged} acknowledged, ${killRows.rows} rows after restart, ${killRows.lost} lost`);

    // --- 4d. the spool's append cost per request
    log(`spool append cost: ${P.spoolRows} appends to a fresh spool (durability normal, as the gateway runs)`);
    const spoolDir = join(home, 'spool');
    const spool = AuditSpool.open({ dataDir: spoolDir });
    const appendUs: number[] = [];
    try {
      for (let i = 0; i < P.spoolRows; i++) {
        const t0 = performance.now();
        await spool.append({
          requestId: `req-${i}`,
          callerRequestId: null,
          traceId: null,
          grantId: '6b1f0000-0000-4000-8000-000000000001',
          peer: 'home',
          subjectUserId: 'alice',
          adminTokenName: null,
          verb: 'list',
          resource: 'tasks',
          queryHash: null,
          outcome: 'allowed',
          statusCode: 200,
          rowsOut: 20,
          bytesOut: first.body.length,
          latencyMs: 1.2,
        });
        appendUs.push((performance.now() - t0) * 1000);
      }
    } finally {
      await spool.close();
    }

    await gw.stop();
    gw = undefined;

    // --- the same gateway on PostgreSQL, behind a proxy that can slow the audit store
    log('starting PostgreSQL and a gateway on it (through a TCP proxy that can slow the audit store)');
    pgServer = await startPostgres();
    const dbUrl = await pgServer.createDatabase('bench');
    proxy = await startDelayProxy({ host: pgServer.host, port: pgServer.port });
    const proxied = new URL(dbUrl);
    proxied.host = `127.0.0.1:${proxy.port}`;
    gw = await startGatewayChild(CLI_BIN, join(home, 'postgres', 'data'), envFor(join(home, 'postgres'), { DATABASE_URL: proxied.toString() }));
    db = new pg.Pool({ connectionString: dbUrl, max: 2 });
    const pgCreds = (await seedAndEnroll(gw, P.slowPeers)).peers.map((p) => ({ certPem: p.certPem, keyPem: p.keyPem, caPem: p.gatewayCaPem }));

    // --- 4c. request p99 with the main store slowed 10× (a delay in the TCP proxy in front of PostgreSQL, on the audit store's transactions)
    log('calibrating the store slowdown (a shipper-shaped transaction, direct vs through the delaying proxy)');
    const baseMs = await probeStore(dbUrl, quick ? 5 : 15);
    let delayMs = Math.max(0.5, (0.9 * baseMs) / 1);
    let slowMs = 0;
    for (let attempt = 0; attempt < 6; attempt++) {
      proxy.delayMs = delayMs;
      slowMs = await probeStore(proxied.toString(), quick ? 3 : 7);
      if (slowMs / baseMs >= 10) break;
      delayMs *= 1.6;
    }
    proxy.delayMs = 0;
    log(`store probe ${round(baseMs)} ms direct, ${round(slowMs)} ms with ${round(delayMs)} ms per chunk of an audit transaction (${round(slowMs / baseMs, 1)}×)`);
    // Paced well below what this gateway answers flat out (a saturated server's p99 is its queue, not the store).
    const capacity = await runLoad({ url: `${gw.federationUrl}${VERB_PATH}`, creds: pgCreds, concurrency: CONCURRENCY, durationMs: P.warmMs + 500 });
    const slowRate = Math.max(10, Math.min(1000, Math.round(rate(capacity) * 0.4)));
    log(`slow store: ${slowRate} req/s paced (0.4 × the ${Math.round(rate(capacity))} req/s it answers flat out), ${P.slowRounds} interleaved rounds of normal and slowed`);
    const normalRuns: LoadResult[] = [];
    const slowRuns: LoadResult[] = [];
    for (let r = 0; r < P.slowRounds; r++) {
      for (const slow of r % 2 === 0 ? [false, true] : [true, false]) {
        proxy.delayMs = slow ? delayMs : 0;
        const res = await runLoad({ url: `${gw.federationUrl}${VERB_PATH}`, creds: pgCreds, concurrency: CONCURRENCY, durationMs: P.slowRoundMs, ratePerSecond: slowRate });
        (slow ? slowRuns : normalRuns).push(res);
      }
      log(`slow store round ${r + 1}/${P.slowRounds} done`);
    }
    proxy.delayMs = 0;
    const normal = latencyFigures(normalRuns);
    const slowed = latencyFigures(slowRuns);


    // --- 6a. grant lookup and scope evaluation with many grants
    log(`scale: ${P.grants} grants`);
    const scopeText = (await db.query<{ scope: string }>('select scope from grants limit 1')).rows[0]!.scope;
    await db.query(
      `insert into grants (id, subject_user_id, peer_name, status, scope, allow_sensitive, created_at, activated_at, expires_at, scope_version)
       select gen_random_uuid()::text, 'alice', 'scale-' || g, 'active', $1, 0, $2, $2, $3, 1 from generate_series(1, $4::int) g`,
      [scopeText, new Date().toISOString(), new Date(Date.now() + 30 * 86_400_000).toISOString(), P.grants],
    );
    const grantIds = (await db.query<{ id: string }>('select id from grants')).rows.map((r) => r.id);
    const storage = await openStorage({ databaseUrl: dbUrl, migrate: false });
    const lookupMs: number[] = [];
    const cachedUs: number[] = [];
    const scopeUs: number[] = [];
    try {
      const cache = new GrantCache(storage.grants, { ttlMs: 60_000 });
      const sample = Array.from({ length: Math.min(quick ? 300 : 2000, grantIds.length) }, (_, i) => grantIds[(i * 7919) % grantIds.length]!);
      for (const id of sample) {
        const t0 = performance.now();
        const g = await cache.get(id);
        lookupMs.push(performance.now() - t0);
        if (g === null) throw new BenchError(`grant ${id} not found`);
      }
      for (const id of sample) {
        const t0 = performance.now();
        await cache.get(id);
        cachedUs.push((performance.now() - t0) * 1000);
      }
      const scopes = (await db.query<{ scope: string }>('select scope from grants')).rows.map((r) => JSON.parse(r.scope) as unknown);
      for (let pass = 0; pass < 2; pass++) {
        for (const raw of scopes) {
          const t0 = performance.now();
          const decision = evaluateScope(validateScope(raw), { userId: 'alice', teamIds: [] }, { verb: 'list', resource: 'tasks' });
          if (pass === 1) scopeUs.push((performance.now() - t0) * 1000);
          if (!decision.allowed) throw new BenchError('the bench scope denied list tasks');
        }
      }
    } finally {
      await storage.close();
    }

    // --- 6b. `audit --since 1h` with many audit rows in PostgreSQL
    log(`scale: loading ${P.auditRows} audit rows (generate_series), then \`audit --since 1h\` through the admin API`);
    const loadT0 = performance.now();
    await db.query(
      `insert into audit_log (id, at, request_id, grant_id, peer, subject_user_id, verb, resource, outcome, status_code, rows_out, bytes_out, latency_ms)
       select 'bulk-' || g, to_char((now() at time zone 'utc') - g * interval '2500 milliseconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'req-bulk-' || g,
              '6b1f0000-0000-4000-8000-000000000001', case when g % 7 = 0 then 'lab' else 'home' end, 'alice', 'list', 'tasks',
              case when g % 11 = 0 then 'denied' else 'allowed' end, case when g % 11 = 0 then 403 else 200 end, 20, 900, 3.5
       from generate_series(1, $1::int) g`,
      [P.auditRows],
    );
    await db.query('analyze audit_log');
    const auditLoadMs = performance.now() - loadT0;
    const totalRows = Number((await db.query<{ n: string }>('select count(*) as n from audit_log')).rows[0]!.n);
    const sinceMs: number[] = [];
    let sinceRows = 0;
    for (let i = 0; i < P.auditQueries + 2; i++) {
      const t0 = performance.now();
      const page = await gw.admin.audit({ since: '1h' });
      const ms = performance.now() - t0;
      sinceRows = page.items.length;
      if (i >= 2) sinceMs.push(ms);
    }
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `explain (analyze, format text) select * from audit_log where at >= $1 order by at desc, seq desc limit 100`,
      [new Date(Date.now() - 3_600_000).toISOString()],
    );
    const planText = plan.rows.map((r) => r['QUERY PLAN']);
    const sqlMs = Number(/Execution Time: ([\d.]+) ms/.exec(planText.join('\n'))?.[1] ?? Number.NaN);

    await gw.stop();
    gw = undefined;
    await db.end();
    db = undefined;
    await proxy.close();
    proxy = undefined;
    await pgServer.stop();
    pgServer = undefined;

    // --- 5. CLI cold start and TUI frame time (the CLI and TUI issues' own benches)
    log(`CLI cold start (scripts/bench-cli.js, ${P.cliRuns} runs)`);
    const cli = await childJson<{ medianMs: Record<string, number>; ratios: { version: number; grantList: number } }>([CLI_BENCH, '--json', '--runs', String(P.cliRuns)]);
    log('TUI frame time with a 10 000-row audit buffer (packages/tui bench)');
    const tui = await childJson<{ frame: { inkRenderP50: number; inkRenderP99: number; wallP50: number; wallP99: number; renders: number }; load: Record<string, number>; heapMiB: number }>([TUI_BENCH, '--json', ...(quick ? ['--quick'] : [])]);

    const enrollMedian = round(median(enrollMs));
    const slowRatio = round(slowed.p99Ms / normal.p99Ms);
    const rowsLost = sustainRows.lost + killRows.lost;
    const sinceMedian = round(median(sinceMs));
    const target = (value: number, op: '>=' | '<=' | '<' | '==', limit: number) => ({
      value,
      target: `${op} ${limit}`,
      met: op === '>=' ? value >= limit : op === '<=' ? value <= limit : op === '<' ? value < limit : value === limit,
    });
    return {
      machine,
      verb_keepalive_ratio: keepalive.ratio,
      handshake_ratio: handshake.ratio,
      enroll_median_ms: enrollMedian,
      audit_rows_lost: rowsLost,
      audit_slow_store_p99_ratio: slowRatio,
      cli_version_ratio: cli.ratios.version,
      tui_frame_ms: round(tui.frame.inkRenderP50),
      verb_keepalive_p99_ms: keepalive.gateway.p99Ms,
      verb_keepalive_cpu_ratio: keepalive.cpuRatio,
      verb_keepalive_floor_ratio: floor.ratio,
      verb_keepalive_floor_cpu_ratio: floor.cpuRatio,
      handshake_cpu_ratio: handshake.cpuRatio,
      audit_sustained_req_per_s: round(rate(sustain), 0),
      audit_since_1h_ms: sinceMedian,
      targets: {
        verb_keepalive_ratio: target(keepalive.ratio, '>=', 0.6),
        verb_keepalive_p99_ms: target(keepalive.gateway.p99Ms, '<', 10),
        handshake_ratio: target(handshake.ratio, '>=', 0.8),
        enroll_median_ms: target(enrollMedian, '<', 100),
        audit_rows_lost: target(rowsLost, '==', 0),
        audit_sustained_req_per_s: target(round(rate(sustain), 0), '>=', 5000),
        audit_slow_store_p99_ratio: target(slowRatio, '<=', 1.1),
        cli_version_ratio: target(cli.ratios.version, '<=', 1.5),
        cli_grant_list_ratio: target(cli.ratios.grantList, '<=', 2.5),
        tui_frame_ms: target(round(tui.frame.inkRenderP50), '<', 33),
        audit_since_1h_ms: target(sinceMedian, '<', 50),
      },
      verb_keepalive: { concurrency: CONCURRENCY, rounds: P.rounds, roundMs: P.roundMs, responseBytes: first.body.length, rows: listed, ...keepalive },
      verb_keepalive_floor: { concurrency: CONCURRENCY, rounds: P.rounds, roundMs: P.roundMs, ratio: floor.ratio, roundRatios: floor.roundRatios, cpuRatio: floor.cpuRatio, gateway: floor.gateway, floor: floor.bare },
      handshake: { concurrency: CONCURRENCY, rounds: P.rounds, roundMs: P.roundMs, ...handshake },
      enroll: {
        runs: enrollMs.length,
        medianMs: enrollMedian,
        p95Ms: round(percentile(enrollMs, 95)),
        keygenCsrMedianMs: round(median(csrMs)),
        opensslReqMedianMs: round(median(opensslMs)),
        opensslRuns: opensslMs.length,
        keygenCsrVsOpensslRatio: round(median(csrMs) / median(opensslMs), 3),
      },
      audit: {
        sustained: { askedReqPerSec: P.sustainRate, seconds: P.sustainMs / 1000, reachedReqPerSec: round(rate(sustain), 0), p50Ms: round(percentile(sustain.latencies, 50)), p99Ms: round(percentile(sustain.latencies, 99)), non2xx: sustain.non2xx, failed: sustain.failed, ...sustainRows },
        kill9: { killAfterMs: P.killAfterMs, restartMs: Math.round(restartMs), ...killRows, rowsBeyondAcknowledged: killRows.rows - (killRows.acknowledged - killRows.lost) },
        slowStore: {
          how: 'a TCP proxy in front of PostgreSQL holds every client→server chunk of an audit-store transaction (audit_log statement or archive lock … COMMIT) for delayPerChunkMs; other queries pass at once',
          probeDirectMs: round(baseMs),
          probeSlowedMs: round(slowMs),
          slowdown: round(slowMs / baseMs, 1),
          delayPerChunkMs: round(delayMs),
          flatOutReqPerSec: round(rate(capacity), 0),
          pacedReqPerSec: slowRate,
          rounds: P.slowRounds,
          normal,
          slowed,
          p99Ratio: slowRatio,
        },
        spoolAppend: { appends: appendUs.length, p50Us: round(percentile(appendUs, 50), 1), p99Us: round(percentile(appendUs, 99), 1) },
      },
      cli: { runs: P.cliRuns, ...cli },
      tui,
      scale: {
        grants: { count: grantIds.length, storeLookupP50Ms: round(percentile(lookupMs, 50), 3), storeLookupP99Ms: round(percentile(lookupMs, 99), 3), cachedLookupP50Us: round(percentile(cachedUs, 50), 2), scopeEvalP50Us: round(percentile(scopeUs, 50), 2), scopeEvalP99Us: round(percentile(scopeUs, 99), 2) },
        auditSince: { rows: totalRows, loadMs: Math.round(auditLoadMs), queries: sinceMs.length, adminApiMedianMs: sinceMedian, adminApiP95Ms: round(percentile(sinceMs, 95)), rowsReturned: sinceRows, sqlExecutionMs: round(sqlMs), plan: planText },
      },
    };
  } finally {
    process.removeListener('exit', killOnExit);
    await bare?.stop().catch(() => undefined);
    await gw?.kill9().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await pgServer?.stop().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}

type Target = { value: number; target: string; met: boolean };

function table(r: Record<string, unknown>): string {
  const t = r.targets as Record<string, Target>;
  const m = r.machine as { cpus: number; cpuModel: string; node: string; date: string; quick: boolean };
  type Side = { reqPerSec: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number | null };
  const k = r.verb_keepalive as { cpuRatio: number | null; gateway: Side; bare: Side };
  const f = r.verb_keepalive_floor as { gateway: Side; floor: Side };
  const h = r.handshake as typeof k;
  const e = r.enroll as { keygenCsrMedianMs: number; opensslReqMedianMs: number };
  const a = r.audit as { sustained: { reachedReqPerSec: number; acknowledged: number; rows: number }; kill9: { acknowledged: number; rows: number; lost: number }; slowStore: { slowdown: number; normal: { p99Ms: number }; slowed: { p99Ms: number } }; spoolAppend: { p50Us: number; p99Us: number } };
  const s = r.scale as { grants: { count: number; storeLookupP50Ms: number; cachedLookupP50Us: number; scopeEvalP50Us: number }; auditSince: { rows: number; sqlExecutionMs: number } };
  const mark = (key: string) => (t[key]!.met ? 'met' : 'MISSED');
  const rows: string[][] = [
    ['verb keep-alive ratio', `${t.verb_keepalive_ratio!.value} (gw ${k.gateway.reqPerSec} vs bare ${k.bare.reqPerSec} req/s; p50 ${k.gateway.p50Ms} ms)`, t.verb_keepalive_ratio!.target, mark('verb_keepalive_ratio')],
    ['verb keep-alive CPU/request', `gw ${k.gateway.cpuUsPerRequest ?? '?'} µs vs bare ${k.bare.cpuUsPerRequest ?? '?'} µs (ratio ${k.cpuRatio ?? '?'})`, '-', '-'],
    ['verb keep-alive p99', `${k.gateway.p99Ms} ms (bare ${k.bare.p99Ms} ms)`, `${t.verb_keepalive_p99_ms!.target} ms`, mark('verb_keepalive_p99_ms')],
    ['verb keep-alive vs design floor', `${String(r.verb_keepalive_floor_ratio)} (gw ${f.gateway.reqPerSec} vs floor ${f.floor.reqPerSec} req/s; CPU ${f.gateway.cpuUsPerRequest ?? '?'} vs ${f.floor.cpuUsPerRequest ?? '?'} µs)`, '-', '-'],
    ['handshake ratio', `${t.handshake_ratio!.value} (gw ${h.gateway.reqPerSec} vs bare ${h.bare.reqPerSec} conn/s)`, t.handshake_ratio!.target, mark('handshake_ratio')],
    ['handshake CPU/request', `gw ${h.gateway.cpuUsPerRequest ?? '?'} µs vs bare ${h.bare.cpuUsPerRequest ?? '?'} µs (ratio ${h.cpuRatio ?? '?'})`, '-', '-'],
    ['enrollment median', `${t.enroll_median_ms!.value} ms (keygen+CSR ${e.keygenCsrMedianMs} ms vs openssl req ${e.opensslReqMedianMs} ms)`, `${t.enroll_median_ms!.target} ms`, mark('enroll_median_ms')],
    ['audit sustained', `${a.sustained.reachedReqPerSec} req/s; ${a.sustained.acknowledged} answered, ${a.sustained.rows} rows`, `${t.audit_sustained_req_per_s!.target} req/s`, mark('audit_sustained_req_per_s')],
    ['audit rows lost', `${t.audit_rows_lost!.value} (kill -9: ${a.kill9.acknowledged} acknowledged, ${a.kill9.rows} rows)`, t.audit_rows_lost!.target, mark('audit_rows_lost')],
    ['audit slow-store p99 ratio', `${t.audit_slow_store_p99_ratio!.value} (${a.slowStore.normal.p99Ms} → ${a.slowStore.slowed.p99Ms} ms, store ${a.slowStore.slowdown}× slower)`, t.audit_slow_store_p99_ratio!.target, mark('audit_slow_store_p99_ratio')],
    ['spool append', `p50 ${a.spoolAppend.p50Us} µs, p99 ${a.spoolAppend.p99Us} µs`, '-', '-'],
    ['CLI --version ratio', String(t.cli_version_ratio!.value), t.cli_version_ratio!.target, mark('cli_version_ratio')],
    ['CLI grant list ratio', String(t.cli_grant_list_ratio!.value), t.cli_grant_list_ratio!.target, mark('cli_grant_list_ratio')],
    ['TUI frame (10 000 rows)', `${t.tui_frame_ms!.value} ms (Ink render p50)`, `${t.tui_frame_ms!.target} ms`, mark('tui_frame_ms')],
    [`grants (${s.grants.count})`, `store lookup p50 ${s.grants.storeLookupP50Ms} ms, cached ${s.grants.cachedLookupP50Us} µs, scope eval p50 ${s.grants.scopeEvalP50Us} µs`, '-', '-'],
    [`audit --since 1h (${s.auditSince.rows} rows)`, `${t.audit_since_1h_ms!.value} ms via the admin API (SQL ${s.auditSince.sqlExecutionMs} ms)`, `${t.audit_since_1h_ms!.target} ms`, mark('audit_since_1h_ms')],
  ];
  const header = ['item', 'measured', 'target', ''];
  const widths = header.map((hd, i) => Math.max(hd.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    `Mosaic bench${m.quick ? ' (--quick: a smoke run, not a measurement)' : ''} — ${m.date}, ${m.cpus} × ${m.cpuModel}, Node ${m.node}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
  ].join('\n');
}

try {
  const result = await main();
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : table(result));
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
