import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { createError } from '@mosaic/federation-core';
import { defaultDataDir } from './data-dir.js';

export const ConfigInvalidError = createError<[string]>('CONFIG_INVALID', '%s', 400, 'see `mosaic gateway start --help`');

/** What `mosaic gateway start` is given (flags and environment), before defaults. */
export interface GatewayOptions {
  name?: string;
  dataDir?: string;
  federationHost?: string;
  federationPort?: number;
  adminHost?: string;
  adminPort?: number;
  publicUrl?: string;
  databaseUrl?: string;
  redisUrl?: string;
  ca?: 'embedded' | 'step-ca';
  /** Start on an embedded store that `migrate-storage` copied into PostgreSQL (refused otherwise: `STORE_MIGRATED`). */
  allowMigratedStore?: boolean;
  /** TLS for the admin API, required when it binds beyond loopback. */
  adminTls?: { certPem: string; keyPem: string };
  env?: NodeJS.ProcessEnv;
}

/** The resolved configuration of one gateway process. */
export interface GatewayConfig {
  name: string;
  dataDir: string;
  federationHost: string;
  federationPort: number;
  adminHost: string;
  adminPort: number;
  /** As given; null means "derive from the bound federation address". */
  publicUrl: URL | null;
  databaseUrl: string | null;
  redisUrl: string | null;
  ca: 'embedded' | 'step-ca';
  allowMigratedStore: boolean;
  adminTls: { certPem: string; keyPem: string } | null;
  env: NodeJS.ProcessEnv;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Apply defaults and check everything a person can get wrong, with messages that say what to do. */
export function resolveConfig(options: GatewayOptions): GatewayConfig {
  const env = options.env ?? process.env;
  const name = options.name ?? 'default';
  if (!NAME.test(name)) throw new ConfigInvalidError(`--name "${name}" must be 1–63 lower-case letters, digits or dashes (e.g. work, home)`);
  const dataDir = resolve(options.dataDir ?? env.MOSAIC_DATA_DIR ?? defaultDataDir(name, env));
  const federationPort = port(options.federationPort ?? 8443, '--federation-port');
  const adminPort = port(options.adminPort ?? 8400, '--admin-port');
  const federationHost = host(options.federationHost ?? '127.0.0.1', '--federation-host');
  const adminHost = host(options.adminHost ?? '127.0.0.1', '--admin-host');
  if (!isLoopback(adminHost) && !options.adminTls) {
    throw new ConfigInvalidError(`the admin API may bind to ${adminHost} (beyond loopback) only with TLS; keep it on 127.0.0.1 and reach it over SSH, or give it a certificate`);
  }
  let publicUrl: URL | null = null;
  if (options.publicUrl !== undefined) {
    try {
      publicUrl = new URL(options.publicUrl);
    } catch {
      throw new ConfigInvalidError(`--public-url "${options.publicUrl}" is not a URL (e.g. https://work.example.net:8443)`);
    }
    if (publicUrl.protocol !== 'https:') throw new ConfigInvalidError('--public-url must be https:// (the federation listener only speaks TLS)');
    if (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash || publicUrl.username) {
      throw new ConfigInvalidError('--public-url is scheme, host and port only (e.g. https://work.example.net:8443)');
    }
  }
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigInvalidError('DATABASE_URL must be a postgres:// URL (unset it to use the embedded SQLite store)');
  }
  const redisUrl = options.redisUrl ?? env.REDIS_URL ?? null;
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigInvalidError('REDIS_URL must be a redis:// or rediss:// URL');
  const ca = options.ca ?? 'embedded';
  if (ca !== 'embedded' && ca !== 'step-ca') throw new ConfigInvalidError(`--ca must be embedded or step-ca, not "${String(ca)}"`);
  return { name, dataDir, federationHost, federationPort, adminHost, adminPort, publicUrl, databaseUrl, redisUrl, ca, allowMigratedStore: options.allowMigratedStore === true, adminTls: options.adminTls ?? null, env };
}

function port(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new ConfigInvalidError(`${flag} must be a port number from 0 to 65535 (0 picks a free one)`);
  return value;
}

function host(value: string, flag: string): string {
  const bare = value.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(bare)) throw new ConfigInvalidError(`${flag} "${value}" is not a host name or IP address`);
  return bare;
}
