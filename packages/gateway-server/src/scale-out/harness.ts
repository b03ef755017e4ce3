/**
 * The scale-out topology for tests, from Debian's packages: a real PostgreSQL, a real
 * redis-server, two `mosaic gateway start` replicas as child processes (same DATABASE_URL,
 * REDIS_URL and MOSAIC_SECRET, two data dirs, two fixed federation ports) and a real HAProxy
 * running `infra/haproxy.cfg` — the very file operators use — with its addresses from the
 * environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { childHome, killChildGateway, startChildGateway, type ChildGateway, type ChildHome, type RawPeer } from '../test-support/child-gateway.js';

/** The repository's `infra/haproxy.cfg`. */
export const HAPROXY_CFG = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../infra/haproxy.cfg');
/** Debian's haproxy binary (the `haproxy` package); `MOSAIC_TEST_HAPROXY` overrides. */
export const HAPROXY_BIN = process.env.MOSAIC_TEST_HAPROXY ?? '/usr/sbin/haproxy';

export function haproxyAvailability(): { available: true } | { available: false; reason: string } {
  return existsSync(HAPROXY_BIN) ? { available: true } : { available: false, reason: `${HAPROXY_BIN} not found (Debian: apt-get install haproxy)` };
}

/** A free loopback TCP port (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The address HAProxy connects to the replicas from, and the one address the replicas accept
 * PROXY protocol v2 headers from (`MOSAIC_PROXY_PROTOCOL_FROM`). Tests talking to a replica
 * directly come from 127.0.0.1: plain TLS, as before.
 */
export const LB_SOURCE = '127.0.0.2';

/** The environment `infra/haproxy.cfg` reads. */
export function haproxyEnv(lbPort: number, replicaPorts: readonly number[]): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // as root it chroots and drops to the haproxy user (infra/haproxy.cfg `global`); as anyone else it cannot
    ...(process.getuid?.() === 0 ? {} : { MOSAIC_HAPROXY_UNPRIVILEGED: '1' }),
    MOSAIC_LB_BIND: `127.0.0.1:${lbPort}`,
    // HAProxy reaches the replicas from its own loopback address: only it may send PROXY headers
    MOSAIC_LB_SOURCE: LB_SOURCE,
    ...Object.fromEntries(replicaPorts.map((p, i) => [`MOSAIC_REPLICA_${i + 1}`, `127.0.0.1:${p}`])),
  };
}

/** HAProxy in the foreground (`-db`) on `infra/haproxy.cfg`. */
export async function startHaproxy(lbPort: number, replicaPorts: readonly number[]): Promise<{ stop(): Promise<void>; output(): string }> {
  const child: ChildProcess = spawn(HAPROXY_BIN, ['-db', '-f', HAPROXY_CFG], { env: haproxyEnv(lbPort, replicaPorts), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await Promise.race([waitForPort(lbPort), exited.then(() => Promise.reject(new Error(`haproxy exited: ${out}`)))]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One replica: its home (data dir, env), its fixed federation port, the running child. */
export interface Replica {
  readonly home: ChildHome;
  readonly port: number;
  gw: ChildGateway | undefined;
  admin: AdminClient;
  /** `https://localhost:<port>`: this replica directly, bypassing HAProxy. */
  readonly url: string;
}

export interface ReplicaSetup {
  databaseUrl: string;
  redisUrl: string;
  lbPort: number;
  secret?: string;
}

/** Two homes sharing DATABASE_URL, REDIS_URL and MOSAIC_SECRET. */
export async function makeReplicas(setup: ReplicaSetup, count = 2): Promise<Replica[]> {
  const homes = Array.from({ length: count }, (_, i) => childHome(`mosaic-scale-${i + 1}-`));
  const secret = setup.secret ?? homes[0]!.env.MOSAIC_SECRET!;
  const replicas: Replica[] = [];
  for (const home of homes) {
    Object.assign(home.env, { DATABASE_URL: setup.databaseUrl, REDIS_URL: setup.redisUrl, MOSAIC_SECRET: secret, MOSAIC_PROXY_PROTOCOL_FROM: LB_SOURCE });
    const port = await freePort();
    replicas.push({ home, port, gw: undefined, admin: undefined as unknown as AdminClient, url: `https://localhost:${port}` });
  }
  return replicas;
}

/** The admin token any replica wrote (they share the tokens in PostgreSQL). */
export function sharedToken(replicas: readonly Replica[]): string {
  for (const r of replicas) {
    const t = readAdminTokenFile(r.home.dataDir);
    if (t !== null) return t;
  }
  throw new Error('no replica wrote a root admin token');
}

/** Start (or restart) replicas together; each behind the HAProxy public URL. */
export async function startReplicas(replicas: readonly Replica[], lbPort: number): Promise<void> {
  await Promise.all(
    replicas.map(async (r) => {
      r.gw = await startChildGateway(r.home, {
        federationPort: r.port,
        args: ['--federation-host', '127.0.0.1', '--public-url', `https://127.0.0.1:${lbPort}`],
        startTimeoutMs: 60_000,
      });
    }),
  );
  const token = sharedToken(replicas);
  for (const r of replicas) r.admin = new AdminClient({ baseUrl: r.gw!.summary.adminUrl, token });
}

/** Start one replica again on its data dir and port (after SIGTERM or SIGKILL). */
export async function restartReplica(r: Replica, replicas: readonly Replica[], lbPort: number): Promise<void> {
  r.gw = await startChildGateway(r.home, {
    federationPort: r.port,
    args: ['--federation-host', '127.0.0.1', '--public-url', `https://127.0.0.1:${lbPort}`],
    startTimeoutMs: 60_000,
  });
  r.admin = new AdminClient({ baseUrl: r.gw.summary.adminUrl, token: sharedToken(replicas) });
}

export async function stopReplicas(replicas: readonly Replica[]): Promise<void> {
  await Promise.all(replicas.map((r) => killChildGateway(r.gw)));
  for (const r of replicas) r.home.remove();
}

/** One mTLS request (a fresh connection each time): status and body, or null when the connection was refused or cut. */
export async function federationCall(url: string, peer: RawPeer, path = '/list/tasks', body: unknown = {}, callerId?: string): Promise<{ status: number; body: unknown } | null> {
  const agent = new Agent({ connect: { ca: peer.caCertPem, cert: peer.certPem, key: peer.keyPem, servername: 'localhost', maxCachedSessions: 0 } });
  try {
    const res = await request(`${url}/api/federation/v1${path}`, {
      method: path === '/capabilities' ? 'GET' : 'POST',
      dispatcher: agent,
      headers: { ...(callerId === undefined ? {} : { 'x-request-id': callerId }), ...(path === '/capabilities' ? {} : { 'content-type': 'application/json' }) },
      ...(path === '/capabilities' ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === '' ? null : (JSON.parse(text) as unknown) };
  } catch {
    return null;
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/** A keep-alive mTLS client to one address: `call` answers a status (0: no answer). */
export function federationClient(url: string, peer: RawPeer): { call(path?: string): Promise<number>; close(): Promise<void> } {
  const agent = new Agent({ connect: { ca: peer.caCertPem, cert: peer.certPem, key: peer.keyPem, servername: 'localhost', maxCachedSessions: 0 } });
  return {
    call: async (path = '/capabilities') => {
      try {
        const res = await request(`${url}/api/federation/v1${path}`, { method: 'GET', dispatcher: agent });
        await res.body.text();
        return res.statusCode;
      } catch {
        return 0;
      }
    },
    close: () => agent.close(),
  };
}

/** The server certificate a listener presents (no client certificate sent). */
export async function presentedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolveCert, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = s.getPeerCertificate(false);
      s.destroy();
      resolveCert(cert);
    });
    s.once('error', reject);
  });
}

/**
 * A held mTLS connection: one request answered on it, then kept open. `closedAt` resolves with
 * `performance.now()` when the server closes it.
 */
export async function holdConnection(port: number, peer: RawPeer): Promise<{ closedAt: Promise<number>; destroy(): void }> {
  return new Promise((resolveHeld, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: peer.caCertPem, cert: peer.certPem, key: peer.keyPem, ALPNProtocols: ['http/1.1'] }, () => {
      s.write('POST /api/federation/v1/list/tasks HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    });
    const closedAt = new Promise<number>((r) => s.once('close', () => r(performance.now())));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.startsWith('HTTP/1.1 200') && buf.includes('\r\n\r\n')) {
        buf = '\u0000'; // answered once; ignore the rest
        resolveHeld({ closedAt, destroy: () => s.destroy() });
      } else if (buf.startsWith('HTTP/1.1 ') && !buf.startsWith('HTTP/1.1 200')) {
        reject(new Error(`held connection got ${buf.slice(0, 40)}`));
      }
    });
    s.once('error', reject);
  });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
