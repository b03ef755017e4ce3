/**
 * The deployment files in `infra/`, checked without a Docker engine: `compose.yaml` parsed with
 * the `yaml` package and checked structurally, `haproxy.cfg` with `haproxy -c` (the same file
 * the scale-out suite runs), `mosaic-gateway.service` parsed as INI (and `systemd-analyze
 * verify` where it exists), the Dockerfile's `pnpm deploy` build.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LATEST_SCHEMA_VERSION, openStorage } from '../storage/index.js';
import { CI } from '../test-support/engines.js';
import { findPostgresBinaries, postgresAvailability, startPostgres, type PostgresServer } from '../test-support/postgres.js';
import { HAPROXY_BIN, HAPROXY_CFG, haproxyAvailability, haproxyEnv } from './harness.js';

const execAsync = promisify(execFile);
const INFRA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../infra');
const REPO = resolve(INFRA, '..');

interface ComposeService {
  image?: string;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  entrypoint?: string[];
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number | boolean | null>;
  secrets?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

const compose = parse(readFileSync(join(INFRA, 'compose.yaml'), 'utf8'), { merge: true }) as Compose;
/** Names of variables whose values are secrets: they may only come from files. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|DATABASE_URL|KEY/;

describe('infra/compose.yaml', () => {
  it('has PostgreSQL 17 + pgvector, Valkey 8, Step-CA, two gateway replicas built from infra/Dockerfile, and HAProxy', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['gateway-1', 'gateway-2', 'haproxy', 'postgres', 'step-ca', 'valkey']);
    expect(s.postgres!.image).toMatch(/^pgvector\/pgvector:pg17/);
    expect(s.valkey!.image).toMatch(/^valkey\/valkey:8/);
    expect(s['step-ca']!.image).toMatch(/^smallstep\/step-ca:/);
    expect(s.haproxy!.image).toMatch(/^haproxy:/);
    for (const name of ['gateway-1', 'gateway-2']) {
      const g = s[name]!;
      expect(g.build?.dockerfile).toBe('infra/Dockerfile');
      expect(existsSync(resolve(INFRA, g.build!.context, g.build!.dockerfile))).toBe(true);
      expect(g.command?.slice(0, 2)).toEqual(['gateway', 'start']);
      expect(g.command).toContain('--public-url');
      // redis://:<password>@valkey:6379 from a secret file (Valkey requires the password)
      expect(g.environment?.REDIS_URL).toBeUndefined();
      expect(g.environment?.REDIS_URL_FILE).toBe('/run/secrets/redis_url');
      expect(g.secrets).toContain('redis_url');
      expect(g.depends_on?.postgres?.condition).toBe('service_healthy');
      expect(g.depends_on?.valkey?.condition).toBe('service_healthy');
    }
    // one deployment: the same name on both replicas, each with its own data volume
    expect(s['gateway-1']!.command).toEqual(s['gateway-2']!.command);
    expect(s['gateway-1']!.volumes).not.toEqual(s['gateway-2']!.volumes);
  });

  it('every stateful service and gateway has a healthcheck; HAProxy waits for healthy gateways', () => {
    for (const name of ['postgres', 'valkey', 'step-ca', 'gateway-1', 'gateway-2']) {
      expect(compose.services[name]!.healthcheck?.test?.length, name).toBeGreaterThan(0);
    }
    expect(compose.services.haproxy!.depends_on).toEqual({ 'gateway-1': { condition: 'service_healthy' }, 'gateway-2': { condition: 'service_healthy' } });
  });

  it('secrets come from files (compose secrets), never literals in the environment', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [k, v] of Object.entries(svc.environment ?? {})) {
        if (!SECRET_NAME.test(k)) continue;
        expect(k, `${name}: ${k} must be a *_FILE variable`).toMatch(/_FILE$/);
        const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(String(v));
        expect(secret, `${name}: ${k} must name /run/secrets/<secret>`).not.toBeNull();
        expect(svc.secrets, `${name} must mount the secret ${secret![1]}`).toContain(secret![1]);
        expect(compose.secrets[secret![1]!], `secret ${secret![1]} is declared`).toBeDefined();
      }
      // no credentials inside URLs written here
      for (const v of Object.values(svc.environment ?? {})) expect(String(v), name).not.toMatch(/:\/\/[^/@\s]+:[^/@\s]+@/);
    }
    for (const [name, def] of Object.entries(compose.secrets)) expect(def.file, name).toMatch(/^\.\/secrets\/[a-z_]+$/);
    // the gateways read DATABASE_URL and MOSAIC_SECRET through the entrypoint's *_FILE support
    const entrypoint = readFileSync(join(INFRA, 'docker-entrypoint.sh'), 'utf8');
    expect(entrypoint).toMatch(/for var in DATABASE_URL REDIS_URL MOSAIC_SECRET/);
  });

  it('every file it mounts exists (Step-CA template, haproxy.cfg)', () => {
    const binds: string[] = [];
    for (const svc of Object.values(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('./') || src.startsWith('../')) binds.push(src);
        else expect(compose.volumes, `named volume ${src}`).toHaveProperty(src);
      }
    }
    expect(binds).toEqual(expect.arrayContaining(['./haproxy.cfg', './step-ca/mosaic.tpl']));
    for (const b of binds) expect(existsSync(resolve(INFRA, b)), b).toBe(true);
  });

  it('HAProxy gets the replica addresses the config reads, one per gateway service', () => {
    const env = compose.services.haproxy!.environment!;
    // (MOSAIC_LB_SOURCE is optional: compose gives HAProxy a fixed address on the network instead)
    const expected = ['MOSAIC_HAPROXY_UNPRIVILEGED', ...Object.keys(haproxyEnv(1, [1, 2]))].filter((k) => k !== 'PATH' && k !== 'MOSAIC_LB_SOURCE');
    expect(Object.keys(env).sort()).toEqual([...new Set(expected)].sort());
    expect(String(env.MOSAIC_REPLICA_1)).toBe('gateway-1:8443');
    expect(String(env.MOSAIC_REPLICA_2)).toBe('gateway-2:8443');
  });

  it('the gateways take PROXY protocol headers from HAProxy only: its fixed address on the network', () => {
    const text = readFileSync(HAPROXY_CFG, 'utf8');
    expect(text).toMatch(/^\s*default-server .*\bsend-proxy-v2\b/m);
    const lb = (compose.services.haproxy as unknown as { networks: { default: { ipv4_address: string } } }).networks.default.ipv4_address;
    expect(lb).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const name of ['gateway-1', 'gateway-2']) expect(compose.services[name]!.environment?.MOSAIC_PROXY_PROTOCOL_FROM, name).toBe(lb);
  });

  it('is hardened: no-new-privileges and cap_drop ALL everywhere, read-only root for the gateways, Valkey and HAProxy', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.security_opt, name).toContain('no-new-privileges:true');
      expect(svc.cap_drop, name).toEqual(['ALL']);
    }
    for (const name of ['gateway-1', 'gateway-2', 'valkey', 'haproxy', 'postgres']) expect(compose.services[name]!.read_only, name).toBe(true);
    // only PostgreSQL's entrypoint (chown, then drop to its user) gets a few back
    expect(compose.services.postgres!.cap_add?.sort()).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID']);
    for (const [name, svc] of Object.entries(compose.services)) if (name !== 'postgres') expect(svc.cap_add, name).toBeUndefined();
  });

  it('Valkey requires a password from a secret file, never on its command line', () => {
    const v = compose.services.valkey!;
    expect(v.secrets).toEqual(['valkey_password']);
    const script = [...(v.entrypoint ?? []), ...(v.command ?? [])].join(' ');
    expect(script).toMatch(/requirepass/);
    expect(script).toMatch(/\/run\/secrets\/valkey_password/);
    // the password is written to a config file, not passed as --requirepass <value>
    expect(script).not.toMatch(/--requirepass/);
    expect(v.healthcheck!.test.join(' ')).toMatch(/REDISCLI_AUTH=/);
    expect(compose.secrets.valkey_password).toBeDefined();
    expect(compose.secrets.redis_url).toBeDefined();
  });

  it('the gateways log in to PostgreSQL as their own role, made by the init script; the superuser is only for init', () => {
    const pgsvc = compose.services.postgres!;
    expect(pgsvc.environment?.POSTGRES_USER).toBe('postgres');
    expect(pgsvc.environment?.MOSAIC_DB_PASSWORD_FILE).toBe('/run/secrets/gateway_db_password');
    expect(pgsvc.volumes).toContain('./postgres-init/10-gateway-role.sh:/docker-entrypoint-initdb.d/10-gateway-role.sh:ro');
    // the documented database_url is for the role `mosaic`, not the superuser
    const header = readFileSync(join(INFRA, 'compose.yaml'), 'utf8');
    expect(header).toMatch(/postgres:\/\/mosaic:%s@postgres:5432\/mosaic' "\$\(cat gateway_db_password\)"/);
  });
});

describe('secrets stay out of git and the Docker build context', () => {
  const lines = (file: string) =>
    readFileSync(join(REPO, file), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));

  it('.dockerignore at the root (the build context of infra/Dockerfile) leaves out secrets, dependencies, .git and data', () => {
    const compose1 = compose.services['gateway-1']!.build!;
    expect(resolve(INFRA, compose1.context)).toBe(REPO);
    const ignored = lines('.dockerignore');
    for (const p of ['infra/secrets', '**/node_modules', '.git', '**/*.db']) expect(ignored, p).toContain(p);
    // nothing the build needs is left out
    expect(ignored.some((p) => /^(\*\*\/)?(src|packages|pnpm-lock\.yaml|package\.json|infra)$/.test(p))).toBe(false);
  });

  it('infra/secrets/ is ignored by git', () => {
    expect(lines('.gitignore')).toContain('infra/secrets/');
    const git = spawnSync('git', ['check-ignore', '-q', '--no-index', 'infra/secrets/database_url'], { cwd: REPO });
    if (git.error === undefined) expect(git.status).toBe(0);
  });
});

describe('infra/postgres-init/10-gateway-role.sh (on a real PostgreSQL)', () => {
  const bins = findPostgresBinaries();
  const psqlPath = bins === undefined ? undefined : [join(bins.binDir, 'psql'), join(dirname(realpathSync(bins.postgres)), 'psql'), '/usr/bin/psql'].find((p) => existsSync(p));
  const psql = psqlPath === undefined ? undefined : dirname(psqlPath);
  const available = postgresAvailability();
  const run = (available.available && available.mode === 'local' && psql !== undefined) || CI ? it : it.skip;
  let server: PostgresServer | undefined;
  afterAll(async () => server?.stop());

  run(`makes a non-superuser role that owns the database and can run the gateway's migrations${psql !== undefined && available.available ? '' : ' — skipped: no local PostgreSQL with psql'}`, async () => {
    server = await startPostgres();
    const database = 'mosaic';
    await execAsync(join(psql!, 'psql'), ['-v', 'ON_ERROR_STOP=1', '-h', server.host, '-p', String(server.port), '-U', 'postgres', '-d', 'postgres', '-c', `create database ${database}`]);
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-initdb-'));
    try {
      const pwFile = join(dir, 'gateway_db_password');
      writeFileSync(pwFile, 'a1b2c3d4e5f6', { mode: 0o600 });
      await execAsync('/bin/sh', [join(INFRA, 'postgres-init/10-gateway-role.sh')], {
        env: { PATH: `${psql}:${process.env.PATH ?? '/usr/bin:/bin'}`, PGHOST: server.host, PGPORT: String(server.port), POSTGRES_USER: 'postgres', POSTGRES_DB: database, MOSAIC_DB_PASSWORD_FILE: pwFile },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const url = server.url(database).replace('postgres://postgres@', 'postgres://mosaic@');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const role = await c.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; owner: string }>(
        'select rolsuper, rolcreaterole, rolcreatedb, (select pg_get_userbyid(datdba) from pg_database where datname = current_database()) as owner from pg_roles where rolname = current_user',
      );
      expect(role.rows[0]).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, owner: 'mosaic' });
    } finally {
      await c.end();
    }
    // the gateway's store migrates and works as that role
    const storage = await openStorage({ databaseUrl: url });
    try {
      expect(await storage.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    } finally {
      await storage.close();
    }
  }, 60_000);
});

describe('infra/Dockerfile', () => {
  it('builds the gateway image with `pnpm deploy` and runs it as a dedicated user', () => {
    const text = readFileSync(join(INFRA, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^RUN pnpm --filter @mosaic\/cli deploy --prod/m);
    expect(text).toMatch(/^USER mosaic$/m);
    expect(text).toMatch(/^FROM node:24/m);
    expect(text).toMatch(/^HEALTHCHECK /m);
    expect(text).not.toMatch(/MOSAIC_SECRET=|DATABASE_URL=/);
    // what it copies exists
    for (const m of text.matchAll(/^COPY (?!--from)(\S+) /gm)) expect(existsSync(resolve(REPO, m[1]!)), m[1]).toBe(true);
  });
});

describe('infra/haproxy.cfg', () => {
  const available = haproxyAvailability();
  const run = available.available || CI ? it : it.skip;
  run(`haproxy -c accepts it with the addresses from the environment${available.available ? '' : ` — skipped: ${available.reason}`}`, () => {
    const r = spawnSync(HAPROXY_BIN, ['-c', '-f', HAPROXY_CFG], { env: haproxyEnv(8443, [9443, 9444]), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // clean: no warnings
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/WARNING|ALERT/);
  });

  it('is TLS passthrough with health checks and redispatch', () => {
    const text = readFileSync(HAPROXY_CFG, 'utf8');
    expect(text).toMatch(/^\s*mode tcp$/m);
    expect(text).not.toMatch(/^\s*mode http$/m);
    expect(text).not.toMatch(/\bssl\b.*\bcrt\b/); // never terminates TLS
    expect(text).toMatch(/^\s*option redispatch/m);
    expect(text).toMatch(/^\s*retries \d+$/m);
    expect(text).toMatch(/^\s*default-server check /m);
    expect(text).toMatch(/^\s*bind "\$\{MOSAIC_LB_BIND\}"$/m);
  });

  it('drops privileges when started as root: chroot, user and group haproxy — unless MOSAIC_HAPROXY_UNPRIVILEGED', () => {
    const text = readFileSync(HAPROXY_CFG, 'utf8');
    const global = /^global\n([\s\S]*?)^defaults/m.exec(text)?.[1] ?? '';
    expect(global).toMatch(/^\.if !defined\(MOSAIC_HAPROXY_UNPRIVILEGED\)\n\s+user haproxy\n\s+group haproxy\n\s+chroot \/var\/lib\/haproxy\n\.endif$/m);
  });

  run(`haproxy -c is clean in both modes (as root: chroot + user; unprivileged)${available.available ? '' : ` — skipped: ${available.reason}`}`, () => {
    for (const extra of [{}, { MOSAIC_HAPROXY_UNPRIVILEGED: '1' }]) {
      const env = { ...haproxyEnv(8443, [9443, 9444]), ...extra };
      if (!('MOSAIC_HAPROXY_UNPRIVILEGED' in extra)) delete env.MOSAIC_HAPROXY_UNPRIVILEGED;
      const r = spawnSync(HAPROXY_BIN, ['-c', '-f', HAPROXY_CFG], { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/WARNING|ALERT/);
    }
  });
});

/** `[Section]` → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq <= 0) throw new Error(`not INI: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

describe('infra/mosaic-gateway.service', () => {
  const path = join(INFRA, 'mosaic-gateway.service');
  const unit = parseUnit(readFileSync(path, 'utf8'));
  const service = unit.get('Service')!;
  const one = (k: string) => service.get(k)?.at(-1);

  it('is a hardened unit: dedicated user, StateDirectory, NoNewPrivileges, ProtectSystem=strict', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(one('User')).toBe('mosaic');
    expect(one('StateDirectory')).toBe('mosaic');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('ExecStart')).toMatch(/ gateway start /);
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('takes its secrets from an EnvironmentFile, never inline', () => {
    expect(one('EnvironmentFile')).toMatch(/^\/etc\/mosaic\//);
    for (const env of service.get('Environment') ?? []) expect(env).not.toMatch(SECRET_NAME);
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  (analyze ? it : it.skip)(`systemd-analyze verify accepts it${analyze ? '' : ' — skipped: systemd-analyze not installed'}`, () => {
    let out: string;
    try {
      out = execFileSync(analyze!, ['verify', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string };
      out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
      // Only the install-time facts of this machine may be missing (no node at /usr/bin/node,
      // no /opt/mosaic): anything about the unit itself fails.
      const problems = out.split('\n').filter((l) => l.trim() !== '' && !/is not executable|No such file or directory|Command .* is not executable/.test(l));
      expect(problems, out).toEqual([]);
    }
    expect(out).not.toMatch(/Unknown key|Unknown section|Failed to parse/i);
  });
});
