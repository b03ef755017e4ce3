/**
 * Where the CLI finds the gateway (admin API URL and token), first match wins (CONTRACT.md):
 * flags; environment; an explicit data dir (its gateway.json and admin-token); `--profile` or
 * the default profile; the default data dir. Tokens come from env, a file or stdin — never
 * from a flag value.
 */
import {
  AdminClient,
  defaultDataDir,
  readAdminTokenFile,
  readDiscoveryFile,
  runningGateways,
} from '@mosaic/federation-core/admin-client';
import { nodeFetch } from './http.js';
import { UsageError, type OutputOptions } from './output.js';
import { readProfiles } from './profiles/store.js';
import { loadToken } from './profiles/secrets.js';

// process.getBuiltinModule, not an ES import: the CLI's start-up skips building node:fs's ESM facade (see cli/src/bin.ts)
const { readFileSync } = process.getBuiltinModule('node:fs');

/** The global options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  gateway?: string;
  tokenFile?: string;
  dataDir?: string;
  profile?: string;
  color?: boolean;
  input?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export function outputOptions(g: GlobalOptions): OutputOptions {
  const json = g.json === true;
  const color = g.color !== false && !json && process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  return { json, color, quiet: g.quiet === true, verbose: g.verbose === true };
}

export interface Connection {
  baseUrl: string;
  token: string | undefined;
  /** Where the URL came from, for `-v` and error hints. */
  source: string;
}

/** An admin token from a file, or `-` for stdin (trimmed; empty is a usage error). */
export function readToken(path: string): string {
  try {
    const text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
    const token = text.trim();
    if (token === '') throw new UsageError(`the token file ${path === '-' ? '(stdin)' : path} is empty`);
    return token;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the admin token from ${path === '-' ? 'stdin' : path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'pass a readable file with --token-file, or set MOSAIC_ADMIN_TOKEN');
  }
}

/** Resolve the gateway's admin API and token for a command. */
export function resolveConnection(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  let baseUrl: string | undefined;
  let token: string | undefined;
  let source = '';
  if (g.gateway !== undefined) {
    baseUrl = g.gateway;
    source = '--gateway';
  } else if (env.MOSAIC_GATEWAY_URL) {
    baseUrl = env.MOSAIC_GATEWAY_URL;
    source = 'MOSAIC_GATEWAY_URL';
  }
  if (g.tokenFile !== undefined) token = readToken(g.tokenFile);
  else if (env.MOSAIC_ADMIN_TOKEN) token = env.MOSAIC_ADMIN_TOKEN.trim();

  // An empty MOSAIC_DATA_DIR is no data dir (`MOSAIC_DATA_DIR= mosaic …`), like the other variables.
  const explicitDir = g.dataDir ?? (env.MOSAIC_DATA_DIR || undefined);
  if (explicitDir !== undefined) {
    const file = readDiscoveryFile(explicitDir);
    if (baseUrl === undefined) {
      if (file === null) {
        throw Object.assign(new Error(`no gateway is running on data dir ${explicitDir}`), {
          code: 'GATEWAY_UNREACHABLE',
          remediation: `start it: mosaic gateway start --data-dir ${explicitDir}`,
        });
      }
      baseUrl = file.adminUrl;
      source = `${explicitDir}/gateway.json`;
    }
    token ??= readAdminTokenFile(explicitDir) ?? undefined;
  }
  if (baseUrl === undefined) {
    // `--profile`, else the default profile (`mosaic profile use`).
    const profiles = readProfiles(env);
    const name = g.profile ?? profiles.default;
    if (g.profile !== undefined && profiles.profiles[g.profile] === undefined) {
      const known = Object.keys(profiles.profiles).sort();
      throw new UsageError(`no profile "${g.profile}"`, known.length > 0 ? `the profiles are: ${known.join(', ')} (mosaic profile list)` : 'add one: mosaic profile add <name> --gateway <url> --token-file <file>');
    }
    const profile = name === undefined ? undefined : profiles.profiles[name];
    if (name !== undefined && profile !== undefined) {
      baseUrl = profile.gateway;
      source = `profile ${name}`;
      if (token === undefined) {
        const loaded = loadToken(name, profile.token, { env });
        if (loaded.token !== null) token = loaded.token;
        else if (loaded.problem !== undefined) {
          process.stderr.write(`mosaic: profile "${name}": ${loaded.problem}; going on without its token\n`);
          if (loaded.hint !== undefined) process.stderr.write(`hint: ${loaded.hint}\n`);
        }
      }
    }
  }
  if (baseUrl === undefined) {
    // The default data dir, else the only gateway running under the data root.
    const dir = defaultDataDir('default', env);
    const file = readDiscoveryFile(dir);
    if (file !== null) {
      baseUrl = file.adminUrl;
      source = `${dir}/gateway.json`;
      token ??= readAdminTokenFile(dir) ?? undefined;
    } else {
      const running = runningGateways(env);
      if (running.length === 1) {
        const only = running[0]!;
        baseUrl = only.file.adminUrl;
        source = `${only.dataDir}/gateway.json`;
        token ??= readAdminTokenFile(only.dataDir) ?? undefined;
      } else if (running.length > 1) {
        throw new UsageError(
          `several gateways are running (${running.map((r) => r.file.name).join(', ')}); say which`,
          `pass --data-dir ${running[0]!.dataDir} (or --gateway <url>)`,
        );
      } else {
        throw Object.assign(new Error('no running gateway found'), {
          code: 'GATEWAY_UNREACHABLE',
          remediation: 'start one with `mosaic gateway start`, or point at one with --gateway / MOSAIC_GATEWAY_URL / --data-dir',
        });
      }
    }
  }
  return { baseUrl, token, source };
}

export function adminClient(g: GlobalOptions, version: string): AdminClient {
  const c = resolveConnection(g);
  // node:http rather than the global fetch: see http.ts (start-up cost).
  return new AdminClient({ baseUrl: c.baseUrl, token: c.token, userAgent: `mosaic/${version}`, fetch: nodeFetch });
}
