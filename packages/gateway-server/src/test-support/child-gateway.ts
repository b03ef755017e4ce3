/**
 * A real gateway as a child process — `mosaic gateway start` run from the CLI's sources (tsx,
 * the `mosaic-source` condition, like Vitest itself, so it is never a stale `dist/`) — for
 * tests that kill it (`kill -9`, SIGTERM) and restart it on the same data dir; plus a raw
 * enrollment (CSR → certificate, the key never leaves this process) and an mTLS load
 * generator that records which requests were answered.
 *
 * @example
 * const gw = await startChildGateway({ dataDir, env });
 * const peer = await enrollRawPeer(gw, { subjectUserId: 'alice', peerName: 'home', scope });
 * const load = startLoad(gw, peer, { workers: 32 });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createCsr, exportPrivateKeyPem, generateKeyPair, generateMasterSecret } from '@mosaic/federation-core';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';

/** The CLI's entry point, in its sources. */
const CLI_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../cli/src/bin.ts');

/** A gateway's home for child-process tests: a data dir, private XDG dirs, a fixed master secret. */
export interface ChildHome {
  readonly dir: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  remove(): void;
}

/** A fresh temp home. The environment carries no store, Redis or admin settings of the caller's. */
export function childHome(prefix = 'mosaic-child-'): ChildHome {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'MOSAIC_DATA_DIR', 'MOSAIC_GATEWAY_URL', 'MOSAIC_ADMIN_TOKEN', 'MOSAIC_LOG_LEVEL']) delete env[k];
  Object.assign(env, {
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'share'),
    // A fixed secret: a restart opens the same CA without depending on an OS keyring.
    MOSAIC_SECRET: generateMasterSecret(),
    NO_COLOR: '1',
  });
  return { dir, dataDir: join(dir, 'data'), env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What `gateway start --json` prints. */
export interface ChildSummary {
  name: string;
  pid: number;
  adminUrl: string;
  federationUrl: string;
}

export interface ChildGateway {
  readonly child: ChildProcess;
  readonly summary: ChildSummary;
  readonly admin: AdminClient;
  /** Federation base URL with a host name the server certificate carries. */
  readonly federationUrl: string;
  /** Resolves when the process has exited: its code or signal, and ms from this call. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  /** What it wrote to stderr (its logs). */
  stderr(): string;
}

/**
 * `mosaic gateway start --name <name> --data-dir <home.dataDir> --json` on free loopback ports
 * (or `federationPort`), plus any `args`; resolves once it printed its summary.
 */
export async function startChildGateway(home: ChildHome, options: { name?: string; startTimeoutMs?: number; federationPort?: number; args?: readonly string[] } = {}): Promise<ChildGateway> {
  const tsx = createRequire(import.meta.url).resolve('tsx/esm');
  const args = ['--import', tsx, '--conditions=mosaic-source', CLI_BIN, 'gateway', 'start', '--name', options.name ?? 'work', '--data-dir', home.dataDir];
  const ports = ['--federation-port', String(options.federationPort ?? 0), '--admin-port', '0'];
  const child = spawn(process.execPath, [...args, ...ports, '--json', '--log-level', 'warn', ...(options.args ?? [])], {
    env: home.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const summary = await new Promise<ChildSummary>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start in time: ${err}`));
    }, options.startTimeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolvePromise(JSON.parse(out.slice(0, nl)) as ChildSummary);
    });
    void exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code ?? signal}) before it was ready: ${err}`));
    });
  });
  return {
    child,
    summary,
    admin: new AdminClient({ baseUrl: summary.adminUrl, token: readAdminTokenFile(home.dataDir) ?? undefined }),
    federationUrl: summary.federationUrl.replace('127.0.0.1', 'localhost'),
    exited: async () => {
      const t = Date.now();
      return { ...(await exit), ms: Date.now() - t };
    },
    stderr: () => err,
  };
}

/** Stop a child gateway if it still runs (SIGKILL: for cleanup only). */
export async function killChildGateway(gw: ChildGateway | undefined): Promise<void> {
  if (gw === undefined || gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  const done = gw.exited();
  gw.child.kill('SIGKILL');
  await done;
}

/** An enrolled client certificate, made here from a CSR (as a requesting gateway would). */
export interface RawPeer {
  readonly grantId: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly caCertPem: string;
}

/** Grant + token through the admin API, then `POST /enroll/<token>` with a fresh key's CSR. */
export async function enrollRawPeer(gw: Pick<ChildGateway, 'admin' | 'federationUrl'>, grant: { subjectUserId: string; peerName: string; scope: unknown }): Promise<RawPeer> {
  const created = await gw.admin.createGrant(grant as never);
  const { enrollmentUrl } = await gw.admin.createToken(created.id);
  const token = enrollmentUrl.slice(enrollmentUrl.lastIndexOf('/') + 1);
  const keys = await generateKeyPair({ extractable: true });
  // The enrollment answer names the CA; this first connection trusts nothing it could check,
  // which is fine for a test talking to the gateway it just started.
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${gw.federationUrl}/api/federation/v1/enroll/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csrPem: await createCsr({ keys }) }),
      dispatcher: agent,
    });
    const body = (await res.body.json()) as { certPem?: string; caCertPem?: string };
    if (res.statusCode !== 200 || body.certPem === undefined || body.caCertPem === undefined) throw new Error(`enrollment failed: ${res.statusCode} ${JSON.stringify(body)}`);
    return { grantId: created.id, certPem: body.certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), caCertPem: body.caCertPem };
  } finally {
    await agent.close();
  }
}

/** One request of a load run, by the `x-request-id` the caller sent. */
export interface LoadAnswer {
  readonly status: number;
  /** The gateway's own request id (its answer's `x-request-id`), what the audit row's `requestId` is. */
  readonly requestId: string;
}

/** A running load: every request carries a caller id `<tag>-w<worker>-<n>` (stored as the audit row's `callerRequestId`). */
export interface Load {
  /** Caller id → the answer, for every request that got one. */
  readonly answered: Map<string, LoadAnswer>;
  /** Caller ids of requests that failed without an answer (socket closed, refused). */
  readonly failed: Set<string>;
  /** Resolves when `answered.size` reaches `n`. */
  answeredAtLeast(n: number): Promise<void>;
  /** Resolves once every worker has stopped (each stops at its first failure, or at `stop()`). */
  done(): Promise<void>;
  /** Ask the workers to stop after their current request. */
  stop(): void;
}

/**
 * `workers` concurrent clients, each on its own keep-alive mTLS connection, sending `POST
 * /list/tasks` back to back until stopped or until their first request without an answer.
 */
export function startLoad(gw: Pick<ChildGateway, 'federationUrl'>, peer: RawPeer, options: { workers: number; tag: string; path?: string }): Load {
  const answered = new Map<string, LoadAnswer>();
  const failed = new Set<string>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let stopped = false;
  const url = `${gw.federationUrl}/api/federation/v1${options.path ?? '/list/tasks'}`;
  const worker = async (w: number): Promise<void> => {
    const agent = new Agent({
      connect: { ca: peer.caCertPem, cert: peer.certPem, key: peer.keyPem, servername: 'localhost', maxCachedSessions: 0 },
      connections: 1,
    });
    try {
      for (let i = 0; !stopped; i++) {
        const callerId = `${options.tag}-w${w}-${i}`;
        try {
          const res = await request(url, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', 'x-request-id': callerId }, body: '{}' });
          await res.body.text();
          answered.set(callerId, { status: res.statusCode, requestId: String(res.headers['x-request-id']) });
          for (const x of waiters.filter((x) => answered.size >= x.n)) {
            waiters.splice(waiters.indexOf(x), 1);
            x.resolve();
          }
        } catch {
          failed.add(callerId);
          return;
        }
      }
    } finally {
      await agent.destroy().catch(() => undefined);
    }
  };
  const all = Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  return {
    answered,
    failed,
    answeredAtLeast: (n) => (answered.size >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push({ n, resolve: r }))),
    done: async () => {
      await all;
    },
    stop: () => {
      stopped = true;
    },
  };
}
