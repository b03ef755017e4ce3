/**
 * The scale-out engine: PostgreSQL through a `pg.Pool` and Kysely's `PostgresDialect`.
 *
 * The pool parses `int8` (counts, `bigint` columns) to JavaScript numbers, refusing values
 * beyond 2^53, so both engines hand the repositories the same types.
 */
import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError('storage: a PostgreSQL int8 value exceeds 2^53');
  return n;
}

function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID && format !== 'binary') return parseInt8;
  const parser: unknown = pg.types.getTypeParser(oid, format ?? 'text');
  return parser as (value: string) => unknown;
}

/** `pg`'s type parsers with int8 → number. */
const typeParsers: pg.CustomTypesConfig = { getTypeParser };

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** `application_name` reported to the server (default `mosaic-gateway`). */
  readonly applicationName?: string;
}

/** An opened pool and how to describe it. */
export interface OpenedPostgres {
  readonly dialect: PostgresDialect;
  readonly pool: pg.Pool;
  /** `host:port/database`, never the user or password. */
  readonly location: string;
}

/**
 * `host:port/database` of a PostgreSQL URL — never its user name or password. A socket path
 * given as `?host=/run/postgresql` is shown as the path.
 */
export function describePostgresUrl(databaseUrl: string): string {
  // Parsed by hand: WHATWG URL refuses libpq forms such as `postgres://user@/db?host=/socket`.
  const text = databaseUrl.trim();
  const m = /^postgres(?:ql)?:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?/i.exec(text);
  if (m === null) return '(unparseable DATABASE_URL)';
  const authority = m[1] ?? '';
  // A password holding an unencoded "/", "?" or "#" ends the authority early: what follows it
  // (part of the password) would read as the host, port or database. Say nothing of it.
  if (text.slice(text.indexOf('//') + 2 + authority.length).includes('@')) {
    return '(unparseable DATABASE_URL: percent-encode "/", "?", "#" and "@" in its user name and password)';
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hostPort = at === -1 ? authority : authority.slice(at + 1);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  const params = new URLSearchParams(m[3] ?? '');
  const decode = (v: string): string => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const host = hp?.[1] ? decode(hp[1]) : (params.get('host') ?? 'localhost');
  const port = hp?.[2] ? hp[2] : (params.get('port') ?? '5432');
  const user = decode(userinfo.split(':')[0] ?? '');
  const database = decode((m[2] ?? '').replace(/^\//, '')) || params.get('dbname') || user || 'postgres';
  return `${host}:${port}/${database}`;
}

/** True when `value` looks like a PostgreSQL connection URL. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** Make the pool and dialect; connects lazily (the first query). */
export function openPostgres(databaseUrl: string, options: PostgresOptions = {}): OpenedPostgres {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'mosaic-gateway',
    types: typeParsers,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  // Nor a checked-out one (the pool listens only while a client is idle): a server restart in
  // the middle of a query rejects that query, and the released client is discarded.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return { dialect: new PostgresDialect({ pool }), pool, location: describePostgresUrl(databaseUrl) };
}
