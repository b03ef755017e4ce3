/**
 * Pieces of `pnpm bench` (see main.ts): statistics, the mTLS load generator (undici with the
 * federation client's settings), a gateway child process (`mosaic gateway start` from the
 * CLI's build), the bare reference server's process, and a TCP proxy that delays every chunk
 * (a slowed store).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * CPU time a process has used so far (user + system, ms), from `/proc/<pid>/stat`; null where
 * there is no procfs. Unlike throughput, CPU per request hardly moves with other load on the
 * machine.
 */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // fields[11], fields[12]: utime, stime (clock ticks; USER_HZ is 100 on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Nearest-rank percentile of unsorted samples (NaN when there are none). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

/** Round to `d` decimals (NaN and infinities pass through). */
export function round(x: number, d = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** What a client presents and trusts. */
export interface ClientCreds {
  readonly certPem: string;
  readonly keyPem: string;
  /** The server CAs it trusts (PEM, one or more). */
  readonly caPem: string;
}

/** An undici agent with the federation client's settings (FederationClient#makeAgent): one connection. */
export function clientAgent(creds: ClientCreds): Agent {
  return new Agent({
    connect: {
      ca: creds.caPem,
      cert: creds.certPem,
      key: creds.keyPem,
      servername: 'localhost',
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      maxCachedSessions: 0,
      timeout: 10_000,
    },
    allowH2: false,
    connections: 1,
    keepAliveTimeout: 30_000,
    maxResponseSize: 8 * 1024 * 1024,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
}

export interface LoadOptions {
  url: string;
  /** Worker `w` uses `creds[w % creds.length]`. */
  creds: readonly ClientCreds[];
  concurrency: number;
  durationMs: number;
  /** One request per TLS connection (a new handshake each time) instead of keep-alive. */
  newConnectionPerRequest?: boolean;
  /** Pace the workers to this many requests a second in total (default: as fast as answers come). */
  ratePerSecond?: number;
  /** Send `x-request-id: <tag>-w<worker>-<n>` and record the ids of answered requests in `answered`. */
  tag?: string;
  answered?: Set<string>;
  /** Stop early when this returns true (checked before each request). */
  stop?: () => boolean;
}

export interface LoadResult {
  /** Answers with a 2xx status. */
  ok: number;
  /** Answers with another status (429, 5xx…). */
  non2xx: number;
  /** Requests without an answer (connection refused or reset). */
  failed: number;
  elapsedMs: number;
  /** Latency of every 2xx answer, ms. */
  latencies: number[];
}

/** `concurrency` workers sending `POST url` with `{}` back to back (or paced) for `durationMs`; a worker stops at its first request without an answer. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, non2xx: 0, failed: 0, elapsedMs: 0, latencies: [] };
  const start = performance.now();
  const end = start + options.durationMs;
  const interval = options.ratePerSecond === undefined ? 0 : (1000 * options.concurrency) / options.ratePerSecond;
  const worker = async (w: number): Promise<void> => {
    const agent = clientAgent(options.creds[w % options.creds.length]!);
    try {
      for (let i = 0; ; i++) {
        if (interval > 0) {
          const due = start + (w * interval) / options.concurrency + i * interval;
          const now = performance.now();
          if (due > now) await sleep(due - now);
        }
        if (performance.now() >= end || options.stop?.() === true) return;
        const id = options.tag === undefined ? undefined : `${options.tag}-w${w}-${i}`;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (id !== undefined) headers['x-request-id'] = id;
        const t0 = performance.now();
        try {
          const res = await request(options.url, { method: 'POST', dispatcher: agent, headers, body: '{}', reset: options.newConnectionPerRequest === true });
          await res.body.arrayBuffer();
          if (res.statusCode >= 200 && res.statusCode < 300) {
            result.ok += 1;
            result.latencies.push(performance.now() - t0);
            if (id !== undefined) options.answered?.add(id);
          } else result.non2xx += 1;
        } catch {
          result.failed += 1;
          return;
        }
      }
    } finally {
      await agent.destroy().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  result.elapsedMs = performance.now() - start;
  return result;
}

/** Requests per second of a load result. */
export const rate = (r: LoadResult): number => (r.ok * 1000) / r.elapsedMs;

/** What `gateway start --json` prints. */
interface GatewaySummary {
  pid: number;
  adminUrl: string;
  federationUrl: string;
}

export interface GatewayChild {
  readonly child: ChildProcess;
  readonly admin: AdminClient;
  /** Federation base URL with a host name its certificate carries (`https://localhost:<port>`). */
  readonly federationUrl: string;
  /** SIGKILL, resolved once it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, resolved once it is gone (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** `node <cliBin> gateway start --name bench --data-dir <dataDir> --json` on free loopback ports. */
export async function startGatewayChild(cliBin: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<GatewayChild> {
  // MOSAIC_BENCH_CPU_PROF=<dir>: profile the gateway (`--cpu-prof`; written when it stops, not on kill -9).
  const prof = process.env.MOSAIC_BENCH_CPU_PROF;
  const nodeArgs = prof !== undefined && prof !== '' ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, cliBin, 'gateway', 'start', '--name', 'bench', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json', '--log-level', 'error'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 20_000) err += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const summary = await new Promise<GatewaySummary>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start in 60 s: ${err.slice(-2000)}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, nl)) as GatewaySummary);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited before it was ready: ${err.slice(-2000)}`));
    });
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    admin: new AdminClient({ baseUrl: summary.adminUrl, token: readAdminTokenFile(dataDir) ?? undefined }),
    federationUrl: summary.federationUrl.replace('127.0.0.1', 'localhost'),
    kill9: async () => {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (gone()) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface BareServer {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** The reference server (bare-server.js) in its own process. */
export async function startBareServer(
  script: string,
  config: { certPem: string; keyPem: string; clientCaPem: string; body: string; contentType: string; floor?: { dbFile: string; auditDir: string; ownerUserId: string } },
): Promise<BareServer> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdin.write(`${JSON.stringify(config)}\n`);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { port: number }).port);
    });
    void exited.then(() => reject(new Error('the bare reference server exited before it listened')));
  });
  return {
    url: `https://localhost:${port}`,
    pid: child.pid,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface DelayProxy {
  readonly port: number;
  /**
   * Added to every client → server chunk of an audit-store transaction (ms): from a statement
   * naming `audit_log` or the archive's advisory lock to its COMMIT/ROLLBACK, so each round
   * trip of the shipper's batch costs this much more. 0 forwards at once. Order is kept.
   */
  delayMs: number;
  close(): Promise<void>;
}

/** Does a PostgreSQL wire chunk (Parse/Query text) start or end an audit-store transaction? */
const AUDIT_STATEMENT = /audit_log|pg_advisory_xact_lock_shared/i;
const END_OF_TRANSACTION = /\b(commit|rollback)\b/i;

/** Forward `from` → `to`; with `delay` > 0, hold the chunks of audit-store transactions (in order). */
function pipeDelayed(from: Socket, to: Socket, delay: (() => number) | null): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | null = null;
  let ended = false;
  let inAudit = false;
  let lastDue = 0;
  const flush = (): void => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) to.write(queue.shift()!.chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    let d = 0;
    if (delay !== null) {
      const text = chunk.toString('latin1');
      if (AUDIT_STATEMENT.test(text)) inAudit = true;
      if (inAudit) d = delay();
      if (inAudit && END_OF_TRANSACTION.test(text)) inAudit = false;
    }
    if (d <= 0 && queue.length === 0) {
      to.write(chunk);
      return;
    }
    const due = Math.max(performance.now() + d, lastDue);
    lastDue = due;
    queue.push({ due, chunk });
    timer ??= setTimeout(flush, Math.max(0, due - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
}

/** A TCP proxy on 127.0.0.1 in front of PostgreSQL at `target` that can slow the audit store's transactions. */
export async function startDelayProxy(target: { host: string; port: number }): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy = { delayMs: 0 };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipeDelayed(client, upstream, () => proxy.delayMs);
    pipeDelayed(upstream, client, null);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(proxy, {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
