/**
 * The world of the acceptance suite (`pnpm test:acceptance`, docs/acceptance.md): real
 * `mosaic gateway start` processes of the built binary (run `pnpm build` first; `pnpm install`
 * does it) on free loopback ports, each with its own data dir and master secret, driven with
 * the `mosaic` command the way a person or a CI script drives it — grants, tokens, `peer add`
 * (the URL on stdin, as the docs advise), queries, audit, doctor — and, for the external
 * client, `curl` and `openssl` as an integrator would use them.
 *
 * What a user cannot do through the CLI is done openly here and said where it is used: a
 * certificate the CA would never issue is made with work's own CA key (opened with work's
 * master secret, as a replica opens it), and the store is changed behind a gateway's back
 * (a grant revoked "by another replica", an audit row aged 100 days, a write lock that stalls
 * the main audit store).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { generateMasterSecret, openText, parseMasterSecret, SealKey, type AuditRow, type Grant, type Peer, type QueryResponse, type TokenResponse } from '@mosaic/federation-core';
import { BIN } from './gateways.js';

export { BIN };

/** A finished command. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temp home: private XDG dirs, and an environment with nothing of the caller's gateway, store, Redis or tracing settings. */
export interface AcceptanceHome {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function acceptanceHome(prefix: string): AcceptanceHome {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MOSAIC_') || k.startsWith('OTEL_') || k === 'DATABASE_URL' || k === 'REDIS_URL') delete env[k];
  Object.assign(env, { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), NO_COLOR: '1' });
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `mosaic <args>` to completion; stdin is `input` (or empty): never a terminal. */
export function mosaic(env: NodeJS.ProcessEnv, args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `mosaic <args>` without blocking this process (for commands run side by side). */
export function mosaicAsync(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A running `mosaic gateway start` child process. */
export interface Gateway {
  readonly name: string;
  readonly dataDir: string;
  readonly adminUrl: string;
  readonly federationUrl: string;
  /** `https://localhost:<port>`: the federation listener by a name its certificate carries. */
  readonly url: string;
  readonly caPin: string;
  /** Its master secret (`MOSAIC_SECRET`). */
  readonly secret: string;
  readonly env: NodeJS.ProcessEnv;
  readonly child: ChildProcess;
  /** `mosaic <args> --data-dir <its data dir>` (the CLI finds URL and admin token there). */
  cli(args: string[], input?: string): Run;
  cliAsync(args: string[], input?: string): Promise<Run>;
  /** `cli(args)` that must exit 0; its stdout parsed as JSON. */
  json<T>(args: string[], input?: string): T;
  /**
   * `json` without blocking this process — for commands whose traffic passes through
   * something this process serves (a TCP proxy, a collector): `spawnSync` would stall it.
   */
  jsonAsync<T>(args: string[], input?: string): Promise<T>;
  /** Everything it logged (stderr). */
  logs(): string;
  stop(): Promise<void>;
}

/** The error a failed `json()` call throws: the command, its exit code and stderr. */
function failed(args: string[], r: Run): Error {
  return new Error(`mosaic ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
}

/**
 * `mosaic gateway start --name <name> --data-dir <home>/<name> --federation-port 0 --admin-port 0 --json`
 * (plus `args`), with its own `MOSAIC_SECRET` and `env` on top of the home's; resolves once
 * it printed its ready line.
 */
export async function startGateway(home: AcceptanceHome, name: string, options: { env?: NodeJS.ProcessEnv; args?: string[] } = {}): Promise<Gateway> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first (pnpm install does it)`);
  const dataDir = join(home.dir, name);
  const secret = generateMasterSecret();
  const env: NodeJS.ProcessEnv = { ...home.env, MOSAIC_SECRET: secret, ...options.env };
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', name, '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json', ...(options.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const summary = await new Promise<{ adminUrl: string; federationUrl: string; caPin: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`gateway ${name} did not start: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      ok(JSON.parse(out.split('\n')[0]!) as { adminUrl: string; federationUrl: string; caPin: string });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`gateway ${name} exited with ${code}: ${err}`));
    });
  });
  const withDir = (args: string[]) => [...args, '--data-dir', dataDir];
  const gw: Gateway = {
    name,
    dataDir,
    ...summary,
    url: summary.federationUrl.replace('127.0.0.1', 'localhost'),
    secret,
    env: home.env,
    child,
    cli: (args, input) => mosaic(home.env, withDir(args), input),
    cliAsync: (args, input) => mosaicAsync(home.env, withDir(args), input),
    json<T>(args: string[], input?: string): T {
      const r = mosaic(home.env, withDir([...args, '--json']), input);
      if (r.code !== 0) throw failed(args, r);
      return JSON.parse(r.stdout) as T;
    },
    async jsonAsync<T>(args: string[], input?: string): Promise<T> {
      const r = await mosaicAsync(home.env, withDir([...args, '--json']), input);
      if (r.code !== 0) throw failed(args, r);
      return JSON.parse(r.stdout) as T;
    },
    logs: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
  return gw;
}

// ---------------------------------------------------------------------------------------
// The CLI steps of a federation, each one command as the docs show it.

/** Rows for `mosaic gateway seed -`. */
export type SeedFile = Record<string, unknown>;

/** `mosaic gateway seed -` with the file on stdin. */
export function seed(gw: Gateway, data: SeedFile): void {
  const r = gw.cli(['gateway', 'seed', '-'], JSON.stringify(data));
  if (r.code !== 0) throw failed(['gateway', 'seed', '-'], r);
}

export interface GrantSpec {
  user: string;
  peer: string;
  scope: unknown;
  expiresIn?: string;
  allowSensitive?: boolean;
}

/** `mosaic federation grant create --user … --peer … --scope - [--expires-in] [--allow-sensitive] --json`. */
export function createGrant(work: Gateway, spec: GrantSpec): Grant {
  const args = ['federation', 'grant', 'create', '--user', spec.user, '--peer', spec.peer, '--scope', '-'];
  if (spec.expiresIn !== undefined) args.push('--expires-in', spec.expiresIn);
  if (spec.allowSensitive === true) args.push('--allow-sensitive');
  return work.json<Grant>(args, JSON.stringify(spec.scope));
}

/** `mosaic federation grant token <id> [--reenroll] --json`. */
export function issueToken(work: Gateway, grantId: string, options: { reenroll?: boolean } = {}): TokenResponse {
  return work.json<TokenResponse>(['federation', 'grant', 'token', grantId, ...(options.reenroll === true ? ['--reenroll'] : [])]);
}

/** `mosaic federation peer add - --ca-pin <pin> [--name] [--local-user] --json`, the URL on stdin. */
export function addPeer(home: Gateway, enrollmentUrl: string, caPin: string, options: { name?: string; localUser?: string } = {}): Peer {
  return home.json<Peer>(peerAddArgs(caPin, options), `${enrollmentUrl}\n`);
}

export interface LinkSpec extends Omit<GrantSpec, 'peer'> {
  /** The name home gives work's peer (also the grant's peer name unless `grantPeer`). */
  name: string;
  grantPeer?: string;
  localUser?: string;
  /** Rewrite the enrollment URL (e.g. through a TCP proxy). */
  via?: (url: string) => string;
}

/** `peer add` arguments. */
function peerAddArgs(caPin: string, options: { name?: string; localUser?: string }): string[] {
  const args = ['federation', 'peer', 'add', '-', '--ca-pin', caPin];
  if (options.name !== undefined) args.push('--name', options.name);
  if (options.localUser !== undefined) args.push('--local-user', options.localUser);
  return args;
}

/** Work's admin: `grant create` + `grant token`; home's admin: `peer add`. */
export function link(work: Gateway, home: Gateway, spec: LinkSpec): { grant: Grant; peer: Peer } {
  const grant = createGrant(work, { ...spec, peer: spec.grantPeer ?? home.name });
  const token = issueToken(work, grant.id);
  const url = spec.via === undefined ? token.enrollmentUrl : spec.via(token.enrollmentUrl);
  const peer = addPeer(home, url, token.caPin, { name: spec.name, ...(spec.localUser === undefined ? {} : { localUser: spec.localUser }) });
  return { grant: work.json<Grant>(['federation', 'grant', 'show', grant.id]), peer };
}

/** {@link link} with `peer add` run without blocking this process (through a proxy served here). */
export async function linkAsync(work: Gateway, home: Gateway, spec: LinkSpec): Promise<{ grant: Grant; peer: Peer }> {
  const grant = createGrant(work, { ...spec, peer: spec.grantPeer ?? home.name });
  const token = issueToken(work, grant.id);
  const url = spec.via === undefined ? token.enrollmentUrl : spec.via(token.enrollmentUrl);
  const peer = await home.jsonAsync<Peer>(peerAddArgs(token.caPin, { name: spec.name, ...(spec.localUser === undefined ? {} : { localUser: spec.localUser }) }), `${url}\n`);
  return { grant: work.json<Grant>(['federation', 'grant', 'show', grant.id]), peer };
}

export interface QueryArgs {
  source?: string;
  as?: string;
  limit?: number;
}

export interface QueryRun {
  code: number | null;
  answer: QueryResponse;
  stderr: string;
}

function queryArgs(verb: 'list' | 'get' | 'search', resource: string, arg: string | undefined, options: QueryArgs): string[] {
  const args = ['federation', 'query', verb, resource, ...(arg === undefined ? [] : [arg])];
  if (options.source !== undefined) args.push('--source', options.source);
  if (options.as !== undefined) args.push('--as', options.as);
  if (options.limit !== undefined) args.push('--limit', String(options.limit));
  return [...args, '--json'];
}

function queryRun(r: Run): QueryRun {
  const answer = (r.stdout.trim() === '' ? { items: [], sources: [], partial: false } : JSON.parse(r.stdout)) as QueryResponse;
  return { code: r.code, answer, stderr: r.stderr };
}

/** `mosaic federation query <verb> <resource> [<id>|<text>] … --json`: the exit code, the answer (when there is one) and stderr. */
export function query(home: Gateway, verb: 'list' | 'get' | 'search', resource: string, arg: string | undefined, options: QueryArgs = {}): QueryRun {
  return queryRun(home.cli(queryArgs(verb, resource, arg, options)));
}

/** {@link query} without blocking this process (its traffic may pass through a proxy served here). */
export async function queryAsync(home: Gateway, verb: 'list' | 'get' | 'search', resource: string, arg: string | undefined, options: QueryArgs = {}): Promise<QueryRun> {
  return queryRun(await home.cliAsync(queryArgs(verb, resource, arg, options)));
}

/** Ids of the answer's items (from `source` only, when given), sorted. */
export function ids(answer: QueryResponse, source?: string): string[] {
  return answer.items
    .filter((i) => source === undefined || i._source === source)
    .map((i) => i.id)
    .sort();
}

/** `mosaic federation audit --json --limit 10000 <filters…>`. */
export function auditRows(gw: Gateway, ...filters: string[]): AuditRow[] {
  return gw.json<{ items: AuditRow[] }>(['federation', 'audit', '--limit', '10000', ...filters]).items;
}

/** Poll `probe` until it returns something other than undefined/false, or fail after `ms`. */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 5_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// The external client: curl and openssl, as an integrator without the mosaic CLI uses them.

/** `curl -sS <args>` (never a config file of the machine's). */
export function curl(args: string[], input?: string): Run {
  const r = spawnSync('curl', ['-q', '-sS', ...args], { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `openssl <args>`; throws when it fails. */
export function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Files of a client identity made with openssl. */
export interface CurlClient {
  readonly dir: string;
  readonly key: string;
  readonly cert: string;
  /** The serving gateway's CA certificate (from `GET /ca`). */
  readonly ca: string;
}

/** Work's CA certificate as anyone fetches it (`GET /ca`, public), trusted on first use only in tests. */
export function fetchCa(work: Gateway, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'ca.pem');
  const r = curl(['-k', '-o', path, '-w', '%{http_code}', `${work.url}/api/federation/v1/ca`]);
  if (r.stdout !== '200') throw new Error(`GET /ca: ${r.stdout} ${r.stderr}`);
  return path;
}

/**
 * An identity made entirely outside Mosaic: `openssl ecparam -genkey` (P-256), `openssl req`
 * for the CSR, `curl` POSTing `{"csrPem"}` to the enrollment URL. Returns the files, or throws
 * with the HTTP status and body.
 */
export function enrollWithOpenssl(work: Gateway, enrollmentUrl: string, dir: string, subject = '/CN=ignored-by-the-ca'): CurlClient {
  mkdirSync(dir, { recursive: true });
  const ca = fetchCa(work, dir);
  const key = join(dir, 'client.key');
  const csr = join(dir, 'client.csr');
  const cert = join(dir, 'client.pem');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  const answer = postEnroll(enrollmentUrl, readFileSync(csr, 'utf8'), ca);
  if (answer.status !== 200) throw new Error(`enrollment: ${answer.status} ${answer.text}`);
  writeFileSync(cert, (answer.body as { certPem: string }).certPem);
  return { dir, key, cert, ca };
}

/** `curl -X POST <enrollment url> --data @- ` with `{"csrPem"}`, trusting only `caFile`. */
export function postEnroll(enrollmentUrl: string, csrPem: string, caFile: string): HttpAnswer {
  return parseCurl(curl(['--cacert', caFile, '-i', '-X', 'POST', '-H', 'content-type: application/json', '--data-binary', '@-', enrollmentUrl], JSON.stringify({ csrPem })));
}

/** What curl -i printed, split. */
export interface HttpAnswer {
  /** curl's exit code (0: an answer came; 35/56: the TLS connection was refused or closed). */
  readonly curlExit: number | null;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly text: string;
  readonly body: unknown;
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseCurl(r: Run): HttpAnswer {
  if (r.code !== 0) return { curlExit: r.code, status: 0, headers: {}, text: r.stderr, body: null };
  const end = r.stdout.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = r.stdout.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const text = r.stdout.slice(end + 4);
  return { curlExit: 0, status: Number(statusLine.split(' ')[1]), headers, text, body: jsonOrNull(text) };
}

/** One federation request with curl and a client certificate: `curl --cert --key --cacert -i`. */
export function fedCurl(work: Gateway, client: Pick<CurlClient, 'cert' | 'key' | 'ca'>, method: 'GET' | 'POST', path: string, body?: unknown, extra: string[] = []): HttpAnswer {
  const args = ['--cert', client.cert, '--key', client.key, '--cacert', client.ca, '-i', '-X', method, ...extra];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
  return parseCurl(curl([...args, `${work.url}/api/federation/v1${path}`], body === undefined ? undefined : JSON.stringify(body)));
}

/** The serial of a PEM certificate file, lowercase hex without leading zeros. */
export function serialOf(certFile: string): string {
  return openssl(['x509', '-in', certFile, '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase().replace(/^0+/, '');
}

// ---------------------------------------------------------------------------------------
// Behind a gateway's back.

/** Work's SQLite store, opened beside the running gateway (WAL: both may use it). */
export function withStore<T>(gw: Gateway, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(join(gw.dataDir, 'gateway.db'), { timeout: 5_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * Work's CA key and certificate as PEM files, opened from the store with work's master
 * secret as a replica opens them — for certificates the CA itself would never issue.
 */
export function openWorkCa(work: Gateway, dir: string): { caCert: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  const row = withStore(work, (db) => db.prepare('SELECT ca_cert_pem, ca_sealed_key FROM ca_state WHERE id = 1').get() as { ca_cert_pem: string; ca_sealed_key: string });
  const pkcs8 = openText(SealKey.fromMaster(parseMasterSecret(work.secret)), row.ca_sealed_key, { recordId: 'ca/root' });
  const caCert = join(dir, 'work-ca.pem');
  const caKey = join(dir, 'work-ca.key');
  writeFileSync(caCert, row.ca_cert_pem);
  writeFileSync(caKey, `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  pkcs8.fill(0);
  return { caCert, caKey };
}

/**
 * A client certificate signed by `ca` (files) for a fresh P-256 key, with `extensions`
 * (openssl extension config lines), made by `openssl x509 -req`.
 */
export function signWithOpenssl(dir: string, name: string, ca: { caCert: string; caKey: string }, extensions: string[], options: { days?: number; subject?: string } = {}): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', options.subject ?? '/CN=home', '-out', csr]);
  writeFileSync(ext, `[ext]\n${extensions.join('\n')}\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.caCert, '-CAkey', ca.caKey, '-CAcreateserial', '-days', String(options.days ?? 30), '-extfile', ext, '-extensions', 'ext', '-out', cert]);
  return { cert, key };
}

/** A self-made CA (another organisation's, or an attacker's), by `openssl req -x509`. */
export function otherCa(dir: string, commonName: string): { caCert: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, 'other-ca.key');
  const caCert = join(dir, 'other-ca.pem');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  openssl(['req', '-x509', '-new', '-key', caKey, '-subj', `/CN=${commonName}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', caCert]);
  return { caCert, caKey };
}

/** openssl extension lines for a Mosaic client certificate (both extensions as UTF8String). */
export function mosaicExtensions(grantId: string, subjectUserId: string): string[] {
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    `1.3.6.1.4.1.99999.1=ASN1:UTF8String:${grantId}`,
    `1.3.6.1.4.1.99999.2=ASN1:UTF8String:${subjectUserId}`,
  ];
}

/** Every file under `dir` (recursively) whose raw bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/** Row counts of every table of a gateway's SQLite store. */
export function rowCounts(gw: Gateway): Record<string, number> {
  return withStore(gw, (db) => {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n]));
  });
}

/** `GET <admin url><path>` with the gateway's root admin token — the body the CLI's `--json` prints. */
export async function adminGet<T>(gw: Gateway, path: string): Promise<T> {
  const token = readFileSync(join(gw.dataDir, 'admin-token'), 'utf8').trim();
  const res = await fetch(`${gw.adminUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Wait until every audit row the gateway wrote has shipped from its spool to the store (`federation status`: spool backlog 0). */
export async function drained(gw: Gateway, ms = 5_000): Promise<void> {
  await until(() => gw.json<{ status: { audit: { spoolBacklog: number } } }>(['federation', 'status']).status.audit.spoolBacklog === 0, `${gw.name}'s audit spool drained`, ms);
}
