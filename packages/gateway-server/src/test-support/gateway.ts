import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { generateMasterSecret } from '@mosaic/federation-core';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../gateway.js';

export interface TestGateway {
  gateway: RunningGateway;
  admin: AdminClient;
  dataDir: string;
  /** Environment the gateway was started with (its own XDG dirs). */
  env: NodeJS.ProcessEnv;
  restart(): Promise<TestGateway>;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Start a gateway in this process on free loopback ports, with its own data and config dirs. */
export async function startTestGateway(
  options: {
    name?: string;
    databaseUrl?: string;
    dataDir?: string;
    env?: NodeJS.ProcessEnv;
    publicUrl?: string;
    /** MOSAIC_SECRET for this gateway (default: generated on PostgreSQL, the embedded keeper otherwise). */
    secret?: string;
    /** REDIS_URL: shared rate limits (see limits/redis.ts). */
    redisUrl?: string;
    /** Where the gateway logs (default: nowhere). */
    logger?: Logger;
    /** The requesting side's tunables (e.g. a short breaker cooldown). */
    peerConnections?: StartGatewayOptions['peerConnections'];
    /**
     * Peer certificate renewal. The job is off unless this is given: a test that enrolls a
     * short grant must not see a renewal it did not ask for (`peer renew` works either way).
     */
    renewal?: StartGatewayOptions['renewal'];
    /** `--ca` (default embedded); with `step-ca`, pass the STEP_CA_* variables in `extraEnv`. */
    ca?: StartGatewayOptions['ca'];
    /** Added to the default environment (e.g. a fake Step-CA's `env()`). */
    extraEnv?: NodeJS.ProcessEnv;
    /** `--allow-migrated-store`. */
    allowMigratedStore?: boolean;
  } = {},
): Promise<TestGateway> {
  const home = mkdtempSync(join(tmpdir(), 'mosaic-gw-'));
  const dataDir = options.dataDir ?? join(home, 'data');
  const env: NodeJS.ProcessEnv = options.env ?? {
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'share'),
    ...(options.secret !== undefined ? { MOSAIC_SECRET: options.secret } : options.databaseUrl ? { MOSAIC_SECRET: generateMasterSecret() } : {}),
    ...options.extraEnv,
  };
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const launch = async (): Promise<TestGateway> => {
    const gateway = await startGateway({
      version: '0.0.0-test',
      logger: options.logger ?? pino({ level: 'silent' }),
      name: options.name ?? 'work',
      dataDir,
      federationPort: 0,
      adminPort: 0,
      env,
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
      ...(options.peerConnections ? { peerConnections: options.peerConnections } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.allowMigratedStore ? { allowMigratedStore: true } : {}),
      renewal: options.renewal ?? { enabled: false },
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await gateway.close();
    };
    cleanups.push(stop);
    return {
      gateway,
      admin: new AdminClient({ baseUrl: gateway.adminUrl, token: readAdminTokenFile(dataDir) ?? undefined }),
      dataDir,
      env,
      stop,
      restart: async () => {
        await stop();
        return launch();
      },
    };
  };
  return launch();
}

/** Stop every gateway and remove every temp dir this file started (call in afterAll). */
export async function cleanupTestGateways(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}
