import { chmodSync, lstatSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createError, deriveKey, MosaicError, SealKey } from '@mosaic/federation-core';
import { buildAdminApp } from './admin/app.js';
import { AdminTokenVerifier, generateAdminToken, hashToken } from './admin/auth.js';
import { registerAdminRoutes } from './admin/routes.js';
import { EmbeddedCa, StepCa, stepCaSettingsFromEnv, type GatewayCa } from './ca/index.js';
import { createCaStateStore } from './ca-store.js';
import { resolveConfig, type GatewayConfig, type GatewayOptions } from './config.js';
import { ADMIN_TOKEN_FILE, ensureDir, lockDataDir, readFileNoFollow, removeDiscoveryFile, writeDiscoveryFile, writeFileAtomic } from './data-dir.js';
import { FederationListener } from './federation/listener.js';
import { registerPublicRoutes } from './federation/public-routes.js';
import { GrantCache } from './federation/grant-cache.js';
import { registerFederationVerbs } from './federation/verbs.js';
import { createRateLimiter, isRedisLimiter } from './limits/index.js';
import { createLogger } from './logging.js';
import { Metrics } from './metrics.js';
import { checkDataDirPermissions, resolveMasterSecret, type ResolvedMasterSecret } from './secrets/index.js';
import { openAuditPipeline } from './audit/index.js';
import { AuditWriter } from './services/audit.js';
import { GrantService } from './services/grants.js';
import { startHousekeeping } from './services/housekeeping.js';
import { PeerClients } from './services/peer-clients.js';
import { PeerConnections, type PeerConnectionOptions } from './services/peer-connections.js';
import { PeerService } from './services/peers.js';
import { PeerRenewal, type RenewalOptions } from './services/renewal.js';
import { QueryService } from './services/query.js';
import { Revocation } from './services/revocation.js';
import { coalesced, SharedInvalidation } from './services/invalidation.js';
import { parseProxyProtocolFrom } from './federation/proxy-protocol.js';
import { openStorage, type Storage } from './storage/index.js';
import { MIGRATED_TO_META_KEY, parseMigratedMark } from './storage/meta.js';
import { createTracing, type Tracing } from './tracing.js';

export interface StartGatewayOptions extends GatewayOptions {
  /** The package version, for `gateway.json` and `/health`. */
  version: string;
  logger?: Logger;
  /**
   * The requesting side's tunables (cache TTL, breaker threshold and cooldown, per-call
   * timeout) and `deadlineMs`, the per-source deadline of a query fan-out. Defaults: 30 s,
   * 5 failures, 30 s, 5 s, 5 s.
   */
  peerConnections?: PeerConnectionOptions & { deadlineMs?: number };
  /**
   * Peer certificate renewal: the job's interval (default 10 min), first run (60 s), retry
   * backoff (5 min doubling to 1 h, jittered), claim lease (2 min), `enabled` (true).
   */
  renewal?: RenewalOptions;
}

/** What `mosaic gateway start` shows once the gateway is ready. */
export interface GatewaySummary {
  json: {
    name: string;
    pid: number;
    version: string;
    adminUrl: string;
    federationUrl: string;
    publicUrl: string;
    storage: string;
    caPin: string;
    adminTokenFile: string;
    startedInMs: number;
  };
  lines: { name: string; readyMs: number; rows: Array<[string, string]>; notice?: string };
}

/** A running gateway: its two listeners, its services, and a graceful `close`. */
export interface RunningGateway {
  readonly config: GatewayConfig;
  readonly version: string;
  readonly storage: Storage;
  readonly ca: GatewayCa;
  readonly federation: FederationListener;
  readonly admin: FastifyInstance;
  readonly adminUrl: string;
  readonly federationUrl: string;
  readonly publicUrl: string;
  readonly adminTokenFile: string;
  /** Set when this start created the root admin token (first start, or its file was gone). */
  readonly rootTokenCreated: boolean;
  readonly secretSource: ResolvedMasterSecret['source'];
  readonly secretLocation: string | undefined;
  readonly startedInMs: number;
  readonly grants: GrantService;
  readonly peers: PeerService;
  /** Revoked serials as the listener sees them (tests move a scheduled revocation and call `scheduleNext`). */
  readonly revocation: Revocation;
  /** mTLS clients for this gateway's outbound peers (keys unsealed in memory only). */
  readonly peerClients: PeerClients;
  /** The live links to the peers: one client, breaker and cache scope each (the renewal job swaps credentials here). */
  readonly connections: PeerConnections;
  /** Peer certificate renewal: `peer renew` and the job (`runNow` looks for due peers at once). */
  readonly renewal: PeerRenewal;
  /** `POST /api/admin/query`: local + federated fan-out. */
  readonly query: QueryService;
  readonly metrics: Metrics;
  /** Spans (W3C trace context on every federation call); exported over OTLP/HTTP only with `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly tracing: Tracing;
  /** The one-screen summary (UX.md). */
  summary(): Promise<GatewaySummary>;
  /** Stop accepting, close idle sockets, finish in-flight requests, flush, release the data dir. Within `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>;
}

export const StoreMigratedError = createError<[string, string]>(
  'STORE_MIGRATED',
  "this data dir's embedded store was copied to %s by `gateway migrate-storage` (%s): a gateway on this copy would run with the same CA key and none of the grants, revocations or audit rows made since",
  409,
  'start with DATABASE_URL set to that database; to run on this copy anyway (rolling the migration back), pass --allow-migrated-store',
);

/** Refuse an embedded store that `migrate-storage` copied into PostgreSQL, unless `allow` (then say so in the log). */
async function refuseMigratedStore(storage: Storage, allow: boolean, logger: Logger): Promise<void> {
  const mark = parseMigratedMark(await storage.meta.get(MIGRATED_TO_META_KEY));
  if (mark === null) return;
  if (!allow) throw new StoreMigratedError(`PostgreSQL ${mark.to}`, mark.at);
  logger.warn({ migratedTo: mark.to, at: mark.at }, 'starting on an embedded store that migrate-storage copied into PostgreSQL (--allow-migrated-store)');
}

/**
 * Start a gateway: data dir (locked), master secret, storage (migrated), CA (created once),
 * root admin token, the federation listener and the admin API; then `gateway.json`.
 * Anything that fails undoes what was done before it.
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const started = performance.now();
  const config = resolveConfig(options);
  const logger = options.logger ?? createLogger({ name: config.name });
  const undo: Array<() => Promise<void> | void> = [];
  const rollback = async () => {
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'cleanup after a failed start');
      }
    }
  };
  try {
    // Checked before anything is opened: a bad list is one clear line, nothing changed.
    const proxyProtocolFrom = parseProxyProtocolFrom(config.env.MOSAIC_PROXY_PROTOCOL_FROM);
    ensureDir(config.dataDir);
    await checkDataDirPermissions(config.dataDir);
    undo.push(lockDataDir(config.dataDir));
    // Ids only unless OTEL_EXPORTER_OTLP_ENDPOINT is set: the SDK and exporter are imported then.
    // Shut down (flushed) after the listeners have closed, so the last requests' spans leave.
    const tracing = await createTracing({ name: config.name, version: options.version, env: config.env, logger: logger.child({ component: 'tracing' }) });
    undo.push(() => tracing.shutdown());

    const secret = await resolveMasterSecret({ name: config.name, dataDir: config.dataDir, env: config.env, mode: config.databaseUrl ? 'postgres' : 'embedded' });
    const storage = await openStorage(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir });
    undo.push(() => storage.close());
    await storage.migrate();
    if (config.databaseUrl === null) await refuseMigratedStore(storage, config.allowMigratedStore, logger);
    // --ca step-ca: certificates come from Step-CA's JWK provisioner (ca/step-ca.ts, STEP_CA_*).
    const ca: GatewayCa =
      config.ca === 'step-ca'
        ? await StepCa.open({
            ...stepCaSettingsFromEnv(config.env),
            store: createCaStateStore(storage),
            knownChains: () => storage.certs.liveCertPems(),
            onError: (err) => logger.warn({ err: (err as Error).message }, 'Step-CA'),
            onWarning: (message) => logger.warn(message),
          })
        : await EmbeddedCa.open({ store: createCaStateStore(storage), secret: secret.secret, name: config.name });
    undo.push(() => ca.close());

    // Admin tokens: `root` is the file in the data dir. If the file is gone (or this is the
    // first start) a new root token is made and written; the old one stops working.
    const verifier = new AdminTokenVerifier();
    const adminTokenFile = join(config.dataDir, ADMIN_TOKEN_FILE);
    let rootTokenCreated = false;
    const live = await storage.adminTokens.activeHashes();
    const fileToken = readFileNoFollow(adminTokenFile)?.trim() ?? '';
    const rootValid = fileToken !== '' && live.some((t) => t.name === 'root' && t.tokenHash === hashToken(fileToken));
    const rootExists = live.some((t) => t.name === 'root');
    // On PostgreSQL, replicas share the tokens but not their data dirs: a replica without the
    // file must not replace the root token the others use.
    // Two replicas starting together on an empty database both see no root token: the one
    // whose insert loses (ADMIN_TOKEN_EXISTS) carries on like a replica started later.
    const createRoot = !rootValid && (!rootExists || storage.engine === 'sqlite');
    if (createRoot) {
      const token = generateAdminToken();
      try {
        await storage.transaction(async (tx) => {
          if (rootExists) await tx.adminTokens.revoke('root');
          await tx.adminTokens.create({ name: 'root', tokenHash: hashToken(token) });
        });
        writeFileAtomic(adminTokenFile, `${token}\n`, 0o600);
        rootTokenCreated = true;
      } catch (err) {
        if (storage.engine !== 'postgres' || !(err instanceof MosaicError && err.code === 'ADMIN_TOKEN_EXISTS')) throw err;
      }
    }
    if (rootTokenCreated) {
      logger.debug({ adminTokenFile }, 'root admin token created');
    } else if (!rootValid) {
      logger.warn({ adminTokenFile }, 'no valid root admin token in this data dir; use a token made on another replica (`mosaic gateway admin-token create`)');
    } else if ((lstatSync(adminTokenFile).mode & 0o077) !== 0) {
      chmodSync(adminTokenFile, 0o600); // lstat above: a regular file (readFileNoFollow refused a link)
    }
    // Coalesced: any number of reload requests while one runs share one more read; and the
    // reads are numbered, so a slow stale one never overwrites a newer one (admin/auth.ts).
    const reloadTokens = coalesced(() => verifier.reload(() => storage.adminTokens.activeHashes()));
    await reloadTokens();

    const metrics = new Metrics();
    const revocation = new Revocation(storage, ca);
    await revocation.load();
    undo.push(() => revocation.close());
    const refreshRevoked = coalesced(() => revocation.refresh());
    const scheduleRevocations = coalesced(() => revocation.scheduleNext());
    // Replicas share the store: changes made through another replica arrive at once over
    // LISTEN/NOTIFY (set up below, once the caches exist). The bound does not rest on it: the
    // admin tokens and revoked serials (small) are re-read every SHARED_AUTHZ_POLL_MS whatever
    // happens to NOTIFY, so a revoke anywhere is enforced here within a second.
    const sharedStore = storage.engine === 'postgres';
    let invalidation: SharedInvalidation | null = null;
    if (sharedStore) {
      let lastPoll = Date.now();
      // twice a second: say so once when a reload starts failing, and once when it works again
      const failing = new Set<string>();
      const poll = async (what: string, reload: () => Promise<void>) => {
        try {
          await reload();
          if (failing.delete(what)) logger.info(`${what} reloaded again`);
        } catch (err) {
          if (failing.has(what)) return;
          failing.add(what);
          logger.warn({ err: (err as Error).message }, `could not reload ${what} (retrying every ${SHARED_AUTHZ_POLL_MS} ms)`);
        }
      };
      const timer = setInterval(() => {
        void poll('admin tokens', reloadTokens);
        void poll('revoked serials', refreshRevoked);
        const now = Date.now();
        if (invalidation?.connected === true && now - lastPoll < SHARED_POLL_MS) return;
        if (invalidation?.connected !== true && now - lastPoll < 1_000) return;
        lastPoll = now;
        if (ca instanceof StepCa) ca.refreshSerials().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not reload issued serials'));
      }, SHARED_AUTHZ_POLL_MS);
      timer.unref();
      undo.push(() => clearInterval(timer));
    }
    // The durable audit spool: every audited decision is in it before the answer leaves.
    const auditPipeline = openAuditPipeline({ dataDir: config.dataDir, storage, logger: logger.child({ component: 'audit' }) });
    undo.push(() => auditPipeline.close());
    const audit = new AuditWriter(auditPipeline.spool, logger);
    // Daily, first a minute after start: the 90-day audit rollover (rows stay queryable) and
    // long-expired enrollment tokens. Unref'd timers; failures are logged, never fatal.
    const housekeeping = startHousekeeping({ storage, logger: logger.child({ component: 'housekeeping' }) });
    undo.push(() => housekeeping.stop());

    let publicUrl = config.publicUrl?.origin ?? '';
    const grantCache = new GrantCache(storage.grants);
    // Per-grant rate limits: shared by the replicas through Redis with REDIS_URL (degrading to
    // per-replica buckets while it is unreachable, never refusing for it), else in-process.
    const limiter = createRateLimiter({
      redisUrl: config.redisUrl,
      name: config.name,
      logger: logger.child({ component: 'rate-limit' }),
      onFallback: () => metrics.rateLimitFallbacks.inc({}),
    });
    undo.push(() => limiter.close());
    if (isRedisLimiter(limiter)) await limiter.connect();
    const grants = new GrantService({
      storage,
      ca,
      revocation,
      audit,
      name: config.name,
      publicUrl: () => publicUrl,
      onGrantChanged: (grantId) => {
        grantCache.invalidate(grantId);
        invalidation?.publish({ kind: 'grant', grantId });
      },
      // revokes reach the other replicas exactly at commit (a no-op on SQLite: one process)
      announce: async (tx, events) => invalidation?.inTransaction(tx, events),
    });
    if (sharedStore && config.databaseUrl !== null) {
      const shared = new SharedInvalidation({
        databaseUrl: config.databaseUrl,
        scope: ca.caPin,
        logger: logger.child({ component: 'invalidation' }),
        onEvent: (event) => {
          switch (event.kind) {
            case 'revoked':
              revocation.applied(event.serials, { remote: true });
              break;
            case 'grant-closed':
              grantCache.invalidate(event.grantId);
              revocation.grantClosed(event.grantId, { remote: true });
              break;
            case 'grant':
              grantCache.invalidate(event.grantId);
              // an enrollment or renewal on another replica: its new serial is accepted here too
              if (ca instanceof StepCa) ca.refreshSerials().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not reload issued serials'));
              break;
            case 'scheduled':
              scheduleRevocations().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not schedule a revocation'));
              break;
            case 'tokens':
              reloadTokens().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not reload admin tokens'));
              break;
          }
        },
        onResync: async () => {
          grantCache.clear();
          await Promise.all([reloadTokens(), refreshRevoked(), scheduleRevocations()]);
        },
        // sent through the store's pool: a LISTEN connection that is down loses no event
        send: (channel, payload) => storage.meta.notify(channel, payload),
      });
      undo.push(() => shared.close());
      await shared.start();
      invalidation = shared;
      revocation.share((event) => shared.publish(event));
    }
    const sealKey = SealKey.fromMaster(secret.secret);
    const peerClients = new PeerClients({ storage, sealKey });
    const connections = new PeerConnections({
      storage,
      peerClients,
      logger: logger.child({ component: 'peers' }),
      metrics,
      ...(options.peerConnections ? { options: options.peerConnections } : {}),
    });
    undo.push(() => connections.close());
    const peerRenewal = new PeerRenewal({
      storage,
      sealKey,
      audit,
      peerClients,
      connections,
      logger: logger.child({ component: 'renewal' }),
      tracing,
      ...(options.renewal ? { options: options.renewal } : {}),
    });
    // stopped before the connections close (undo runs in reverse)
    undo.push(() => peerRenewal.stop());
    const peers = new PeerService({ storage, sealKey, audit, connections, renewal: peerRenewal, tracing });
    const query = new QueryService({
      storage,
      connections,
      audit,
      queryHashKey: deriveKey(secret.secret, 'audit-hmac'),
      logger: logger.child({ component: 'query' }),
      tracing,
      ...(options.peerConnections?.deadlineMs !== undefined ? { deadlineMs: options.peerConnections.deadlineMs } : {}),
    });

    const serverHost = config.publicUrl?.hostname ?? (isWildcard(config.federationHost) ? hostname() : config.federationHost);
    // Replicas share one server certificate (one row, compare-and-swap): behind a load balancer
    // (`--public-url`) it names the public host only, the same on every replica — a per-host
    // extra name would make replicas on different hosts replace each other's certificate.
    const extraHosts = isWildcard(config.federationHost) && !(sharedStore && config.publicUrl !== null) ? [hostname()] : [];
    const serverCert = await ca.ensureServerCertificate({ publicUrl: `https://${bracket(serverHost)}`, extraHosts });
    // The listener's own refusals (401 before any route) are audited by the verbs.
    let refuseAudited: ReturnType<typeof registerFederationVerbs> | undefined;
    const federation = await FederationListener.create({
      tls: { certPem: serverCert.certPem, keyPem: serverCert.keyPem, caPem: ca.listenerTrustPem },
      logger: logger.child({ listener: 'federation' }),
      // behind HAProxy with send-proxy-v2: the peers' own addresses (federation/proxy-protocol.ts)
      proxyProtocolFrom,
      isSerialRevoked: (serial) => revocation.isRevoked(serial),
      // Step-CA mode: a certificate not from our own /1.0/sign calls (another provisioner, a
      // sibling CA under the root) ends the connection, whatever it holds.
      ...(ca.acceptsCertificate ? { acceptsCertificate: ca.acceptsCertificate.bind(ca) } : {}),
      refuse: () => refuseAudited?.refuse,
      tracing,
      routes: (app) => {
        registerPublicRoutes(app, { ca, grants, metrics });
        refuseAudited = registerFederationVerbs(app, {
          name: config.name,
          storage,
          revocation,
          spool: auditPipeline.spool,
          metrics,
          limiter,
          grantCache,
          // Derived from the master secret, so every replica sharing MOSAIC_SECRET shares them.
          cursorKey: deriveKey(secret.secret, 'cursor'),
          queryHashKey: deriveKey(secret.secret, 'audit-hmac'),
          renewal: {
            ca,
            onRenewed: (grantId) => {
              invalidation?.publish({ kind: 'grant', grantId });
              invalidation?.publish({ kind: 'scheduled' });
              // the previous serial stops working 10 minutes on: wake up then
              scheduleRevocations().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not schedule a revocation'));
            },
          },
        });
      },
    });
    revocation.attach(federation.sockets);
    // Step-CA rotated its intermediate (learnt from a /1.0/sign answer or a stored chain): trusted from now on.
    if (ca instanceof StepCa) undo.push(ca.onTrustChanged(() => federation.setClientCa(ca.listenerTrustPem)));
    let serverNotAfter = serverCert.notAfter;
    const renewal = ca.scheduleServerCertRenewal((cert) => {
      federation.setServerCertificate(cert.certPem, cert.keyPem);
      serverNotAfter = cert.notAfter;
      logger.info({ notAfter: cert.notAfter.toISOString() }, 'federation server certificate renewed');
    }, {
      onError: (err) => logger.error({ err: (err as Error).message }, 'server certificate renewal failed'),
    });
    undo.push(() => renewal.stop());
    const fedAddr = await federation.listen(config.federationHost, config.federationPort).catch((err: unknown) => {
      throw listenError(err, 'federation listener', config.federationHost, config.federationPort, '--federation-port');
    });
    undo.push(() => federation.close());
    const federationUrl = `https://${bracket(isWildcard(config.federationHost) ? serverHost : config.federationHost)}:${fedAddr.port}`;
    if (publicUrl === '') publicUrl = federationUrl;

    let adminUrl = '';
    // last_used_at, written at most once a minute per token: never a write on every request
    const touched = new Map<string, number>();
    const admin = await buildAdminApp({
      logger: logger.child({ listener: 'admin' }),
      verifier,
      loopbackOnly: config.adminTls === null,
      onAuthenticated: (tokenName) => {
        const now = Date.now();
        if (now - (touched.get(tokenName) ?? 0) < 60_000) return;
        touched.set(tokenName, now);
        storage.adminTokens.touchLastUsed(tokenName).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not record admin token use'));
      },
      tls: config.adminTls,
      routes: (app) =>
        registerAdminRoutes(app, {
          name: config.name,
          version: options.version,
          storage,
          ca,
          grants,
          peers,
          connections,
          query,
          revocation,
          audit,
          metrics,
          federation,
          auditPipeline,
          reloadTokens,
          // the other replicas hear of it at commit; their 500 ms poll covers a lost notification
          announceTokens: async (tx) => invalidation?.inTransaction(tx, [{ kind: 'tokens' }]),
          publicUrl: () => publicUrl,
          adminUrl: () => adminUrl,
          serverCertNotAfter: () => serverNotAfter,
          secretSource: secret.source,
          redis: isRedisLimiter(limiter) ? limiter : null,
        }),
    });
    await admin.listen({ host: config.adminHost, port: config.adminPort, listenTextResolver: (address) => `admin API on ${address}` }).catch((err: unknown) => {
      throw listenError(err, 'admin API', config.adminHost, config.adminPort, '--admin-port');
    });
    undo.push(() => admin.close());
    const adminAddr = admin.server.address();
    const adminPort = typeof adminAddr === 'object' && adminAddr !== null ? adminAddr.port : config.adminPort;
    adminUrl = `${config.adminTls ? 'https' : 'http'}://${bracket(config.adminHost)}:${adminPort}`;

    writeDiscoveryFile(config.dataDir, { name: config.name, pid: process.pid, adminUrl, federationUrl: publicUrl, version: options.version });
    undo.push(() => removeDiscoveryFile(config.dataDir));
    const startedInMs = Math.round(performance.now() - started);
    logger.info({ adminUrl, federationUrl, publicUrl, storage: storage.describe(), startedInMs }, 'gateway ready');
    // the renewal job starts once everything it needs is up
    peerRenewal.start();

    let closing: Promise<void> | null = null;
    return {
      config,
      version: options.version,
      storage,
      ca,
      federation,
      admin,
      adminUrl,
      federationUrl,
      get publicUrl() {
        return publicUrl;
      },
      adminTokenFile,
      rootTokenCreated,
      secretSource: secret.source,
      secretLocation: secret.location,
      startedInMs,
      grants,
      peers,
      revocation,
      peerClients,
      connections,
      renewal: peerRenewal,
      query,
      metrics,
      tracing,
      async summary() {
        const [grantCounts, peerCounts] = await Promise.all([storage.grants.countByStatus(), storage.peers.countByState()]);
        const pin = ca.caPin.slice('sha256:'.length);
        const counts = (c: Record<string, number>, order: string[]) =>
          order.filter((k) => (c[k] ?? 0) > 0).map((k) => `${c[k]} ${k}`).join(' · ') || 'none';
        return {
          json: {
            name: config.name,
            pid: process.pid,
            version: options.version,
            adminUrl,
            federationUrl,
            publicUrl,
            storage: storage.describe(),
            caPin: ca.caPin,
            adminTokenFile,
            startedInMs,
          },
          lines: {
            name: config.name,
            readyMs: startedInMs,
            rows: [
              ['federation', `${publicUrl}   (mTLS; public: enroll, ca, crl)`],
              ['admin API', `${adminUrl}   token: ${adminTokenFile}`],
              ['storage', storage.describe()],
              ['CA', `${ca.mode}  sha256:${pin.slice(0, 4)} ${pin.slice(4, 8)} ${pin.slice(8, 12)} …  (root expires ${ca.rootNotAfter.toISOString().slice(0, 10)})`],
              ['grants', `${counts(grantCounts, ['active', 'pending', 'revoked', 'expired'])}        peers ${counts(peerCounts, ['active', 'degraded', 'revoked'])}`],
              ['secret', secret.source === 'env' ? 'MOSAIC_SECRET' : `${secret.source}${secret.location ? `  ${secret.location}` : ''}`],
            ],
            ...(rootTokenCreated ? { notice: `new root admin token written to ${adminTokenFile}` } : {}),
          },
        };
      },
      close(deadlineMs = 4_500) {
        closing ??= (async () => {
          // Past the deadline, whatever is still open is cut so the process exits in time.
          const timer = setTimeout(() => {
            logger.warn('shutdown deadline reached: closing the remaining connections');
            federation.app.server.closeAllConnections();
            admin.server.closeAllConnections();
          }, deadlineMs);
          timer.unref();
          try {
            await rollback();
          } finally {
            clearTimeout(timer);
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await rollback();
    throw err;
  }
}

/** How often replicas re-read Step-CA's issued serials while LISTEN/NOTIFY is up (ms; every second while down). */
const SHARED_POLL_MS = 5_000;
/**
 * How often replicas re-read the shared admin tokens and revoked serials (ms), whatever
 * happens to LISTEN/NOTIFY: the documented bound (≤ 1 s) holds on this poll alone.
 */
const SHARED_AUTHZ_POLL_MS = 500;

/** A bind failure as a person can act on it. */
function listenError(err: unknown, what: string, host: string, port: number, flag: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new MosaicError('PORT_IN_USE', `the ${what} cannot listen on ${host}:${port}: the port is in use`, 409, {
      remediation: `stop what holds it (\`ss -ltnp 'sport = :${port}'\`), or pass another ${flag}`,
    });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES') {
    return new MosaicError('BIND_FAILED', `the ${what} cannot listen on ${host}:${port} (${code})`, 409, {
      remediation: code === 'EACCES' ? `ports below 1024 need privileges; pass a higher ${flag}` : 'that address is not on this machine; check the host flag',
    });
  }
  return err as Error;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
