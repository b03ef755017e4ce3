import type { FastifyInstance } from 'fastify';
import {
  codedError,
  createAdminTokenRequestSchema,
  leafOfChain,
  parseOrThrow,
  quoteForDisplay,
  type DoctorReport,
  type StatusReport,
} from '@mosaic/federation-core';
import type { GatewayCa } from '../ca/index.js';
import type { FederationListener } from '../federation/listener.js';
import type { RedisLimiterHealth } from '../limits/index.js';
import type { Metrics } from '../metrics.js';
import type { MasterSecretSource } from '../secrets/index.js';
import type { AuditWriter } from '../services/audit.js';
import type { GrantService } from '../services/grants.js';
import { clockSkewCheck, type PeerConnections } from '../services/peer-connections.js';
import { renewalDueAt, type PeerService } from '../services/peers.js';
import type { QueryService } from '../services/query.js';
import { renewalCheck } from '../services/renewal.js';
import type { Revocation } from '../services/revocation.js';
import type { Repositories, Storage } from '../storage/index.js';
import { LATEST_SCHEMA_VERSION } from '../storage/index.js';
import { registerAuditRoutes, type AuditPipeline } from '../audit/index.js';
import { actorOf } from './app.js';
import { auditActor } from '../services/audit.js';
import { generateAdminToken, hashToken } from './auth.js';

export interface AdminRouteDeps {
  name: string;
  version: string;
  storage: Storage;
  ca: GatewayCa;
  grants: GrantService;
  peers: PeerService;
  /** The live peer links: circuit and outage per peer (status, doctor). */
  connections: Pick<PeerConnections, 'health'>;
  query: QueryService;
  revocation: Revocation;
  audit: AuditWriter;
  metrics: Metrics;
  federation: FederationListener;
  auditPipeline: AuditPipeline;
  reloadTokens: () => Promise<void>;
  /** Replicas sharing a store: tell the others of an admin token change inside its transaction (at commit). */
  announceTokens?: (tx: Repositories) => Promise<void>;
  publicUrl: () => string;
  /** The admin API's own URL, once it listens. */
  adminUrl: () => string;
  /** When the federation listener's current server certificate expires. */
  serverCertNotAfter: () => Date;
  secretSource: MasterSecretSource;
  /** The shared rate limiter when REDIS_URL is set (doctor's `redis.reachable`), else null. */
  redis?: { health(): Promise<RedisLimiterHealth>; readonly reachable: boolean } | null;
}

const DAY = 86_400_000;

/** Every admin route of CONTRACT.md that the gateway serves today. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { storage, ca, grants, peers, revocation, audit, metrics } = deps;
  const startedAt = new Date().toISOString();

  app.get('/health', { config: { noAuth: true } }, (_req, reply) => reply.send({ status: 'ok', name: deps.name, version: deps.version }));

  app.get('/metrics', async (_req, reply) => {
    const [grantCounts, peerCounts] = await Promise.all([storage.grants.countByStatus(), storage.peers.countByState()]);
    // The listener tallies the handshakes it ends (before any route runs); the counter mirrors them.
    for (const [reason, n] of Object.entries(deps.federation.refused)) metrics.handshakesRefused.set({ reason }, n);
    const text = metrics.render([
      { name: 'mosaic_grants', help: 'Grants by status.', values: Object.entries(grantCounts).map(([status, value]) => ({ labels: { status }, value })) },
      { name: 'mosaic_peers', help: 'Outbound peers by state.', values: Object.entries(peerCounts).map(([state, value]) => ({ labels: { state }, value })) },
      { name: 'mosaic_federation_open_peer_sockets', help: 'Open mTLS sockets of enrolled peers.', values: [{ labels: {}, value: deps.federation.sockets.openPeerSockets }] },
      { name: 'mosaic_revoked_serials', help: 'Serials refused at the handshake.', values: [{ labels: {}, value: revocation.size }] },
      { name: 'mosaic_audit_spool_backlog', help: 'Audit rows in the local spool not yet shipped.', values: [{ labels: {}, value: deps.auditPipeline.spool.backlog() }] },
      { name: 'mosaic_audit_spool_append_failures', help: 'Audit appends refused since start (answered 503).', values: [{ labels: {}, value: deps.auditPipeline.spool.status().appendFailures }] },
      ...(deps.redis ? [{ name: 'mosaic_rate_limit_redis_up', help: '1 while rate limits are shared through Redis, 0 while they are per-replica.', values: [{ labels: {}, value: deps.redis.reachable ? 1 : 0 }] }] : []),
    ]);
    return reply.type('text/plain; version=0.0.4').send(text);
  });

  app.get('/api/admin/status', async (): Promise<StatusReport> => {
    const [grantCounts, peerCounts] = await Promise.all([storage.grants.countByStatus(), storage.peers.countByState()]);
    return {
      name: deps.name,
      version: deps.version,
      startedAt,
      federationUrl: deps.publicUrl(),
      adminUrl: deps.adminUrl(),
      storage: { engine: storage.engine, location: storage.describe() },
      ca: { mode: ca.mode, caPin: ca.caPin, notAfter: ca.rootNotAfter.toISOString() },
      counts: { grants: grantCounts, peers: peerCounts },
      audit: { spoolBacklog: deps.auditPipeline.spool.backlog(), unavailableRefusals: deps.auditPipeline.spool.status().appendFailures },
      peers: (await storage.peers.list()).map((p) => {
        const link = deps.connections.health(p.name);
        return {
          name: p.name,
          state: p.state,
          circuit: link.circuit,
          offlineSince: link.offlineSince,
          latencyP50Ms: link.latencyP50Ms,
          lastSuccessAt: p.lastSuccessAt,
          lastFailureAt: p.lastFailureAt,
          lastError: p.lastError,
          renewalDueAt: renewalDueAt(p.certNotBefore, p.certNotAfter),
          certNotAfter: p.certNotAfter,
          renewalFailingSince: p.renewalFailedSince,
        };
      }),
    };
  });

  app.get('/api/admin/doctor', async (): Promise<DoctorReport> => {
    const checks: DoctorReport['checks'] = [];
    const add = (id: string, status: 'green' | 'yellow' | 'red', message: string, remediation: string | null = null) => checks.push({ id, status, message, remediation });
    try {
      await storage.ping();
      add('storage.reachable', 'green', storage.describe());
    } catch (err) {
      add('storage.reachable', 'red', `the store does not answer: ${(err as Error).message}`, 'check that PostgreSQL is up and DATABASE_URL is right');
    }
    try {
      const version = await storage.schemaVersion();
      add('storage.migrations', version === LATEST_SCHEMA_VERSION ? 'green' : 'red', `schema version ${version} (this gateway expects ${LATEST_SCHEMA_VERSION})`, version === LATEST_SCHEMA_VERSION ? null : 'restart the gateway to migrate');
    } catch (err) {
      add('storage.migrations', 'red', `cannot read the schema version: ${(err as Error).message}`, 'restart the gateway to migrate');
    }
    add(
      'ca.key_sealed',
      'green',
      ca.mode === 'step-ca'
        ? `the CA keys stay in Step-CA; the provisioner key is held in memory only, and this gateway's own keys are sealed under the master secret (${deps.secretSource})`
        : `the CA key is sealed under the master secret (${deps.secretSource})`,
    );
    const rootLeft = ca.rootNotAfter.getTime() - Date.now();
    add(
      'ca.root_expiry',
      rootLeft < 30 * DAY ? 'red' : rootLeft < 365 * DAY ? 'yellow' : 'green',
      `the CA root expires ${ca.rootNotAfter.toISOString().slice(0, 10)}`,
      rootLeft < 365 * DAY ? 'plan a CA rotation (see docs/runbook.md)' : null,
    );
    if (ca.exclusivity !== undefined) {
      // Step-CA mode: peers trust every certificate the pinned root issues for this host.
      const others = ca.exclusivity.otherProvisioners;
      add(
        'ca.step_ca_exclusive',
        others.length === 0 ? 'green' : 'yellow',
        others.length === 0
          ? 'the Step-CA has no provisioner but this gateway’s'
          : `the Step-CA has ${others.length} other provisioner(s) (${others.slice(0, 5).join(', ')}): requesting gateways trust every certificate its root issues for this host, so whoever controls one of them can impersonate this gateway to them`,
        others.length === 0 ? null : 'use a Step-CA dedicated to Mosaic, or restrict the other provisioners with a Step-CA policy that excludes this host (docs/setup.md "Step-CA mode")',
      );
    }
    const serverLeft = deps.serverCertNotAfter().getTime() - Date.now();
    add(
      'tls.server_cert_expiry',
      serverLeft < 3 * DAY ? 'red' : serverLeft < 20 * DAY ? 'yellow' : 'green',
      `the federation server certificate expires ${deps.serverCertNotAfter().toISOString().slice(0, 10)} (in ${Math.max(0, Math.floor(serverLeft / DAY))}d)`,
      serverLeft < 20 * DAY ? 'it is renewed at 2/3 of its life; if that keeps failing, check the logs and restart the gateway' : null,
    );
    try {
      const crl = await ca.crlStatus();
      // Step-CA mode, revocations not accepted by the CA yet: the CRL is read, the listener denies them; retried
      add('crl.fresh', crl.fresh ? 'green' : crl.pendingRevocations !== undefined && crl.lastError !== undefined && crl.nextUpdate !== null ? 'yellow' : 'red', crl.fresh && crl.nextUpdate ? `CRL #${String(crl.crlNumber)} valid until ${crl.nextUpdate.toISOString()}` : `the CRL could not be reissued${crl.lastError ? `: ${crl.lastError}` : ''}`, crl.fresh ? null : 'check the store and the logs; the listener itself never depends on the CRL');
    } catch (err) {
      add('crl.fresh', 'red', `the CRL could not be built: ${(err as Error).message}`, 'check the store and the logs');
    }
    const spool = deps.auditPipeline.spool.status();
    add(
      'audit.spool',
      !spool.available || spool.appendFailures > 0 ? 'red' : spool.backlog > 10_000 ? 'yellow' : 'green',
      !spool.available
        ? `the audit spool cannot be written (${spool.lastError ?? 'unknown error'}): federation requests are refused with 503`
        : spool.appendFailures > 0
          ? `${spool.appendFailures} requests were refused because the audit spool could not be written${spool.lastError ? ` (${spool.lastError})` : ''}`
          : `${spool.backlog} rows waiting to ship`,
      !spool.available || spool.appendFailures > 0 ? 'check the disk under the data dir (space, permissions), then restart the gateway' : spool.backlog > 10_000 ? 'the main store is slow or down: check storage.reachable' : null,
    );
    {
      // The requesting side: red while a peer is revoked, yellow while one is offline (an
      // outage since its last good call), its circuit is open, or it is degraded.
      const peerList = await storage.peers.list();
      const red: string[] = [];
      const yellow: string[] = [];
      // (a peer degraded by a failing renewal is peers.renewal's to judge, with its one-hour grace)
      for (const p of peerList) {
        const link = deps.connections.health(p.name);
        if (p.state === 'revoked') red.push(`${p.name}: revoked (${p.lastError ?? 'its grant was revoked'})`);
        else if (link.offlineSince !== null || link.circuit !== 'closed') {
          yellow.push(`${p.name}: offline since ${link.offlineSince ?? 'recently'}${link.offlineError ? ` (${link.offlineError})` : ''}, circuit ${link.circuit}`);
        } else if (p.state === 'degraded' && p.renewalFailedSince === null) yellow.push(`${p.name}: degraded (${p.lastError ?? 'see mosaic federation peer show'})`);
      }
      add(
        'peers.reachable',
        red.length > 0 ? 'red' : yellow.length > 0 ? 'yellow' : 'green',
        red.length + yellow.length > 0
          ? [...red, ...yellow].join('; ')
          : peerList.length === 0
            ? 'no peers'
            : `${peerList.length} peer${peerList.length === 1 ? '' : 's'} reachable as of the last call`,
        red.length > 0
          ? 'a revoked peer needs a new grant: ask its admin for one and a token, then `mosaic federation peer remove <name>` and `peer add`'
          : yellow.length > 0
            ? 'is the peer gateway running and reachable from here? `mosaic federation status` shows the last error; calls resume by themselves once it answers'
            : null,
      );
      if (peerList.length > 0) add(...clockSkewCheck(peerList.map((p) => ({ name: p.name, clockSkewMs: deps.connections.health(p.name).clockSkewMs }))));
    }
    add(...renewalCheck(await storage.peers.list(), Date.now()));
    if (deps.redis) {
      // Rate limits degrade to per-replica buckets while Redis is down: worth fixing, never an outage.
      const r = await deps.redis.health();
      add(
        'redis.reachable',
        r.reachable ? 'green' : 'yellow',
        r.reachable
          ? `redis ${r.target} answers: rate limits are shared by every replica`
          : `redis ${r.target} is unreachable${r.degradedSince ? ` since ${r.degradedSince}` : ''}${r.lastError ? ` (${r.lastError})` : ''}: rate limits are per-replica; ${r.fallbacks} requests limited locally so far`,
        r.reachable ? null : `check that Redis/Valkey at ${r.target} is up and that REDIS_URL (host, port, password, TLS) is right; limits are shared again as soon as it answers`,
      );
    }
    const worst = checks.some((c) => c.status === 'red') ? 'red' : checks.some((c) => c.status === 'yellow') ? 'yellow' : 'green';
    return { status: worst, checks };
  });

  registerAuditRoutes(app, { storage, spool: deps.auditPipeline.spool, tail: deps.auditPipeline.tail, writer: audit });

  // ── directory ──────────────────────────────────────────────────────────────
  app.post('/api/admin/seed', async (req) => {
    const result = await storage.directory.applySeed(req.body);
    await audit.record({ ...auditActor(actorOf(req)), verb: 'admin.seed', outcome: 'allowed', statusCode: 200 });
    return result;
  });

  app.delete<{ Params: { id: string } }>('/api/admin/users/:id', async (req) => {
    const { id } = req.params;
    const { revokedGrantIds, serials } = await storage.transaction(async (tx) => {
      const deleted = await tx.directory.deleteUser(id);
      const s = await grants.revokeMany(tx, deleted.grantIds, `subject user ${id} was removed`);
      await audit.record({ ...auditActor(actorOf(req)), verb: 'admin.user.remove', outcome: 'allowed', statusCode: 200, subjectUserId: id }, tx);
      return { revokedGrantIds: deleted.grantIds, serials: s };
    });
    grants.revokedMany(revokedGrantIds, serials);
    return { userId: id, revokedGrantIds };
  });

  app.delete<{ Params: { team: string; user: string } }>('/api/admin/teams/:team/members/:user', async (req) => {
    const { team, user } = req.params;
    await storage.transaction(async (tx) => {
      await tx.directory.removeMembership(team, user);
      await audit.record({ ...auditActor(actorOf(req)), verb: 'admin.team.remove_member', outcome: 'allowed', statusCode: 200, subjectUserId: user }, tx);
    });
    return { teamId: team, userId: user };
  });

  // ── admin tokens ───────────────────────────────────────────────────────────
  app.post('/api/admin/admin-tokens', async (req, reply) => {
    const { name } = parseOrThrow(createAdminTokenRequestSchema, req.body, { code: 'VALIDATION_FAILED', what: 'admin token' });
    const token = generateAdminToken();
    const record = await storage.transaction(async (tx) => {
      const created = await tx.adminTokens.create({ name, tokenHash: hashToken(token) });
      await audit.record({ ...auditActor(actorOf(req)), verb: 'admin.token.create', outcome: 'allowed', statusCode: 201 }, tx);
      await deps.announceTokens?.(tx);
      return created;
    });
    await deps.reloadTokens();
    return reply.code(201).send({ name, token, createdAt: record.createdAt });
  });
  app.get('/api/admin/admin-tokens', async () => ({
    items: (await storage.adminTokens.list()).filter((t) => t.revokedAt === null).map((t) => ({ name: t.name, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt })),
  }));
  app.delete<{ Params: { name: string } }>('/api/admin/admin-tokens/:name', async (req) => {
    const { name } = req.params;
    if (name === req.adminTokenName) throw codedError('VALIDATION_FAILED', 'an admin token cannot revoke itself', { remediation: 'use another admin token' });
    await storage.transaction(async (tx) => {
      await tx.adminTokens.revoke(name);
      await audit.record({ ...auditActor(actorOf(req)), verb: 'admin.token.revoke', outcome: 'allowed', statusCode: 200 }, tx);
      await deps.announceTokens?.(tx);
    });
    await deps.reloadTokens();
    return { revoked: name };
  });

  // ── grants (serving side) ──────────────────────────────────────────────────
  app.post('/api/admin/grants', async (req, reply) => reply.code(201).send(await grants.create(req.body, actorOf(req))));
  app.get<{ Querystring: { status?: string; peer?: string } }>('/api/admin/grants', async (req) => grants.list({ status: req.query.status, peer: req.query.peer }));
  app.get<{ Params: { id: string } }>('/api/admin/grants/:id', async (req) => grants.get(req.params.id));
  app.patch<{ Params: { id: string } }>('/api/admin/grants/:id', async (req) => grants.update(req.params.id, req.body, actorOf(req)));
  app.post<{ Params: { id: string } }>('/api/admin/grants/:id/revoke', async (req) => grants.revoke(req.params.id, req.body, actorOf(req)));
  app.get<{ Params: { id: string }; Querystring: { resource?: string } }>('/api/admin/grants/:id/explain', async (req) => grants.explain(req.params.id, req.query.resource));
  app.post<{ Params: { id: string } }>('/api/admin/grants/:id/tokens', async (req, reply) => reply.code(201).send(await grants.createToken(req.params.id, req.body, actorOf(req))));

  // ── peers (requesting side) ────────────────────────────────────────────────
  app.post('/api/admin/peers/preview', async (req) => peers.preview(req.body));
  app.post('/api/admin/peers', async (req, reply) => reply.code(201).send(await peers.add(req.body, actorOf(req))));
  app.get('/api/admin/peers', async () => peers.list());
  app.get<{ Params: { name: string } }>('/api/admin/peers/:name', async (req) => peers.get(req.params.name));
  // Renew now, over mTLS (the serving side's 409 RENEWAL_NOT_DUE passes through).
  app.post<{ Params: { name: string } }>('/api/admin/peers/:name/renew', async (req) => peers.renew(req.params.name, actorOf(req)));
  app.delete<{ Params: { name: string } }>('/api/admin/peers/:name', async (req) => peers.remove(req.params.name, actorOf(req)));
  // The public half of a peer's credentials, for `mosaic federation peer inspect`: the current
  // client certificate and the pinned CA. Never the key (it stays sealed in the store).
  app.get<{ Params: { name: string } }>('/api/admin/peers/:name/certificate', async (req) => {
    const record = await storage.peers.get(req.params.name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(req.params.name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    // the stored certificate may carry its intermediates (Step-CA): the leaf is what is asked
    return { name: record.name, certPem: leafOfChain(record.certPem), caCertPem: record.caCertPem };
  });

  // ── query (requesting side): local + federated fan-out ──────────────────────────────
  app.post('/api/admin/query', async (req) => deps.query.run(req.body, { ...actorOf(req), traceparent: req.traceparent }));
}
