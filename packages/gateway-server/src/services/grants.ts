import { createHash, randomBytes } from 'node:crypto';
import {
  codedError,
  encodeSubjectUserIdValue,
  isMosaicError,
  quoteForDisplay,
  ENROLL_PATH,
  ENROLLMENT_TOKEN_PATTERN,
  parseCsr,
  parseOrThrow,
  validateScope,
  createGrantRequestSchema,
  updateGrantRequestSchema,
  createTokenRequestSchema,
  revokeGrantRequestSchema,
  explainRows,
  isResource,
  type EnrollResponse,
  type ExplainResponse,
  type Grant,
  type TokenResponse,
} from '@mosaic/federation-core';
import { issueOptionsFor, type GatewayCa } from '../ca/index.js';
import type { GrantRecord, Repositories, Storage } from '../storage/index.js';
import { auditActor, type AuditWriter } from './audit.js';
import type { InvalidationEvent } from './invalidation.js';
import type { Revocation } from './revocation.js';

/** Enrollment tokens live at most 15 minutes (CONTRACT.md). */
export const TOKEN_MAX_TTL_SECONDS = 15 * 60;

/** Who asked, for the audit row. */
export interface Actor {
  requestId: string;
  callerRequestId?: string | null;
  traceId?: string | null;
  adminTokenName?: string | null;
}

export interface GrantServiceDeps {
  storage: Storage;
  ca: GatewayCa;
  revocation: Revocation;
  audit: AuditWriter;
  /** This gateway's name (the `serverName` an enrolled peer is told). */
  name: string;
  /** The federation listener's public base URL, for enrollment URLs. */
  publicUrl: () => string;
  /** Told after a grant changed (edit, revoke, enrollment, expiry): caches of it must go. */
  onGrantChanged?: (grantId: string) => void;
  /**
   * Replicas sharing a store: announce revocations inside the committing transaction
   * (`SharedInvalidation.inTransaction`), so the others hear of them exactly at commit.
   */
  announce?: (tx: Repositories, events: readonly InvalidationEvent[]) => Promise<void>;
  now?: () => Date;
}

/** The wire form of a stored grant. */
export function toGrant(record: GrantRecord): Grant {
  return {
    id: record.id,
    subjectUserId: record.subjectUserId,
    peerName: record.peerName,
    status: record.status,
    scope: record.scope,
    createdAt: record.createdAt,
    activatedAt: record.activatedAt,
    revokedAt: record.revokedAt,
    revokeReason: record.revokeReason,
    expiresAt: record.expiresAt,
    certSerial: record.certSerial,
    certNotAfter: record.certNotAfter,
  };
}

/** Peer names become the certificate's CN: the gateway-name rule (no spaces, controls or escapes). */
export const PEER_NAME = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;

/**
 * Refuse, at grant creation, what the CA could never put in a certificate — otherwise every
 * enrollment would burn its token and fail.
 */
function assertIssuable(peerName: string, subjectUserId: string): void {
  if (!PEER_NAME.test(peerName)) {
    throw codedError('VALIDATION_FAILED', `peerName ${quoteForDisplay(peerName)} must be 1–64 characters of a-z, 0-9, ".", "_", "-" (it becomes the certificate's CN)`, {
      details: [{ path: 'peerName', message: 'must be 1–64 characters of a-z, 0-9, ".", "_", "-"' }],
    });
  }
  try {
    encodeSubjectUserIdValue(subjectUserId);
  } catch {
    throw codedError('VALIDATION_FAILED', 'subjectUserId cannot be written into a certificate (at most 256 UTF-8 bytes)', { details: [{ path: 'subjectUserId', message: 'too long for a certificate' }] });
  }
}

/** Raised inside the activation transaction to roll it back. */
class NotEnrollable extends Error {}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Grants on the serving side: create, edit, revoke, enrollment tokens, and redeeming them. */
export class GrantService {
  private readonly now: () => Date;

  constructor(private readonly deps: GrantServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async create(body: unknown, actor: Actor): Promise<Grant> {
    const input = parseOrThrow(createGrantRequestSchema, body, { code: 'VALIDATION_FAILED', what: 'grant' });
    const scope = validateScope(input.scope, { allowSensitive: input.allowSensitive ?? false });
    const { storage, audit } = this.deps;
    assertIssuable(input.peerName, input.subjectUserId);
    const user = await storage.directory.getUser(input.subjectUserId);
    if (user === null) {
      throw codedError('USER_NOT_FOUND', `no user "${input.subjectUserId}" on this gateway`, {
        remediation: 'seed it first (`mosaic gateway seed users.json`), or check the id with the subject\'s admin',
      });
    }
    if (input.expiresAt != null && Date.parse(input.expiresAt) <= this.now().getTime()) {
      throw codedError('VALIDATION_FAILED', 'expiresAt is in the past', { details: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const record = await storage.transaction(async (tx) => {
      const grant = await tx.grants.create({
        subjectUserId: input.subjectUserId,
        peerName: input.peerName,
        scope,
        allowSensitive: input.allowSensitive ?? false,
        expiresAt: input.expiresAt ?? null,
      });
      await audit.record({ ...auditActor(actor), verb: 'admin.grant.create', outcome: 'allowed', statusCode: 201, grantId: grant.id, peer: grant.peerName, subjectUserId: grant.subjectUserId }, tx);
      return grant;
    });
    return toGrant(record);
  }

  async list(filter: { status?: string | undefined; peer?: string | undefined }): Promise<{ items: Grant[] }> {
    const status = filter.status;
    if (status !== undefined && !['pending', 'active', 'revoked', 'expired'].includes(status)) {
      throw codedError('VALIDATION_FAILED', `status must be pending, active, revoked or expired, not "${status}"`);
    }
    await this.expireDue();
    const records = await this.deps.storage.grants.list({ status: status as Grant['status'] | undefined, peer: filter.peer });
    return { items: records.map(toGrant) };
  }

  async get(idOrPrefix: string): Promise<Grant> {
    await this.expireDue();
    return toGrant(await this.deps.storage.grants.resolve(idOrPrefix));
  }

  async update(idOrPrefix: string, body: unknown, actor: Actor): Promise<Grant> {
    const input = parseOrThrow(updateGrantRequestSchema, body, { code: 'VALIDATION_FAILED', what: 'grant edit' });
    const { storage, audit } = this.deps;
    const current = await storage.grants.resolve(idOrPrefix);
    if (current.status === 'revoked' || current.status === 'expired') {
      throw codedError('GRANT_NOT_EDITABLE', `grant ${current.id} is ${current.status}; it can no longer be edited`);
    }
    const allowSensitive = input.allowSensitive ?? false;
    const scope = validateScope(input.scope, { allowSensitive, previous: current.scope });
    const record = await storage.transaction(async (tx) => {
      const updated = await tx.grants.updateScope(current.id, scope, { allowSensitive: allowSensitive || current.allowSensitive });
      await audit.record({ ...auditActor(actor), verb: 'admin.grant.edit', outcome: 'allowed', statusCode: 200, grantId: current.id, peer: current.peerName, subjectUserId: current.subjectUserId }, tx);
      return updated;
    });
    this.deps.onGrantChanged?.(current.id);
    return toGrant(record);
  }

  async revoke(idOrPrefix: string, body: unknown, actor: Actor): Promise<Grant> {
    const input = parseOrThrow(revokeGrantRequestSchema, body ?? {}, { code: 'VALIDATION_FAILED', what: 'revoke' });
    const { storage, audit, revocation } = this.deps;
    const current = await storage.grants.resolve(idOrPrefix);
    if (current.status === 'revoked') return toGrant(current);
    const { record, serials } = await storage.transaction(async (tx) => {
      const revoked = await tx.grants.revoke(current.id, { reason: input.reason ?? null });
      const serialsRevoked = await tx.certs.revokeAllOfGrant(current.id, { reason: 'cessationOfOperation' });
      await tx.tokens.cancelUnused(current.id);
      await audit.record({ ...auditActor(actor), verb: 'admin.grant.revoke', outcome: 'allowed', statusCode: 200, grantId: current.id, peer: current.peerName, subjectUserId: current.subjectUserId }, tx);
      await this.deps.announce?.(tx, [{ kind: 'revoked', serials: serialsRevoked }, { kind: 'grant-closed', grantId: current.id }, { kind: 'grant', grantId: current.id }]);
      return { record: revoked, serials: serialsRevoked };
    });
    const announced = this.deps.announce !== undefined;
    revocation.applied(serials, { announced });
    revocation.grantClosed(current.id, { announced });
    this.deps.onGrantChanged?.(current.id);
    return toGrant(record);
  }

  /**
   * Revoke every grant in `ids` (a deleted user's), in the caller's transaction, and return the
   * serials revoked. The other replicas are told inside that transaction (at its commit); after
   * it committed, the caller calls `revokedMany` for this process.
   */
  async revokeMany(tx: Repositories, ids: readonly string[], reason: string): Promise<string[]> {
    const serials: string[] = [];
    for (const id of ids) {
      await tx.grants.revoke(id, { reason });
      serials.push(...(await tx.certs.revokeAllOfGrant(id, { reason: 'cessationOfOperation' })));
      await tx.tokens.cancelUnused(id);
    }
    await this.deps.announce?.(tx, [{ kind: 'revoked', serials }, ...ids.flatMap((grantId) => [{ kind: 'grant-closed' as const, grantId }, { kind: 'grant' as const, grantId }])]);
    return serials;
  }

  /** After the transaction of `revokeMany` committed: refuse the serials here, close the sockets, drop the cached grants. */
  revokedMany(ids: readonly string[], serials: readonly string[]): void {
    const announced = this.deps.announce !== undefined;
    this.deps.revocation.applied(serials, { announced });
    for (const id of ids) {
      this.deps.revocation.grantClosed(id, { announced });
      this.deps.onGrantChanged?.(id);
    }
  }

  /** Make an enrollment token (shown once; only its hash is kept). Older unused tokens of the grant are cancelled. */
  async createToken(idOrPrefix: string, body: unknown, actor: Actor): Promise<TokenResponse> {
    const input = parseOrThrow(createTokenRequestSchema, body ?? {}, { code: 'VALIDATION_FAILED', what: 'token request' });
    const ttl = input.ttlSeconds ?? TOKEN_MAX_TTL_SECONDS;
    if (ttl < 1 || ttl > TOKEN_MAX_TTL_SECONDS) throw codedError('VALIDATION_FAILED', `ttlSeconds must be 1..${TOKEN_MAX_TTL_SECONDS} (at most 15 minutes)`);
    const { storage, audit, ca } = this.deps;
    await this.expireDue();
    const grant = await storage.grants.resolve(idOrPrefix);
    const reenroll = input.reenroll ?? false;
    if (grant.status === 'revoked' || grant.status === 'expired') {
      throw codedError('GRANT_NOT_ENROLLABLE', `grant ${grant.id} is ${grant.status}`, { remediation: 'create a new grant: `mosaic federation grant create …`' });
    }
    if (grant.status === 'active' && !reenroll) {
      throw codedError('GRANT_NOT_ENROLLABLE', `grant ${grant.id} is already active`, {
        remediation: 'to replace its certificate (e.g. it expired on the peer), make a re-enrollment token: `grant token <id> --reenroll`',
      });
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.now().getTime() + ttl * 1000);
    await storage.transaction(async (tx) => {
      await tx.tokens.create({ grantId: grant.id, tokenHash: sha256Hex(token), expiresAt, reenroll });
      await audit.record({ ...auditActor(actor), verb: 'admin.grant.token', outcome: 'allowed', statusCode: 201, grantId: grant.id, peer: grant.peerName, subjectUserId: grant.subjectUserId }, tx);
    });
    return { token, enrollmentUrl: `${this.deps.publicUrl()}${ENROLL_PATH}${token}`, caPin: ca.caPin, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Redeem a token (the public `POST /enroll/:token`). The CSR is validated first, then the
   * token is claimed atomically (exactly one concurrent redeemer wins; the claim is committed,
   * so a failure after it leaves the token spent), then the certificate is issued and the grant
   * activated in one transaction with its audit row.
   */
  async redeem(token: string, body: unknown, actor: Actor): Promise<EnrollResponse> {
    const { storage, audit, ca, revocation } = this.deps;
    const started = performance.now();
    const fail = async (status: number, code: Parameters<typeof codedError>[0], message: string, grant: GrantRecord | null, remediation?: string): Promise<never> => {
      await audit.record({
        ...auditActor(actor),
        verb: 'enroll',
        outcome: status >= 500 ? 'error' : 'denied',
        statusCode: status,
        grantId: grant?.id ?? null,
        peer: grant?.peerName ?? null,
        subjectUserId: grant?.subjectUserId ?? null,
        latencyMs: performance.now() - started,
      });
      throw codedError(code, message, remediation === undefined ? undefined : { remediation });
    };
    if (typeof body !== 'object' || body === null || typeof (body as { csrPem?: unknown }).csrPem !== 'string' || Object.keys(body).length !== 1) {
      return fail(400, 'CSR_INVALID', 'the body must be {"csrPem": "<PKCS#10 PEM>"}', null);
    }
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr((body as { csrPem: string }).csrPem);
    } catch (err) {
      return fail(400, 'CSR_INVALID', (err as Error).message, null);
    }
    if (!ENROLLMENT_TOKEN_PATTERN.test(token)) return fail(404, 'TOKEN_UNKNOWN', 'no such enrollment token', null);
    const claim = await storage.tokens.claim(sha256Hex(token), this.now());
    if (!claim.ok) {
      switch (claim.reason) {
        case 'unknown':
          return fail(404, 'TOKEN_UNKNOWN', 'no such enrollment token', null, 'ask the serving admin for a new token (`mosaic federation grant token <grant>`)');
        case 'used':
          return fail(410, 'TOKEN_USED', 'this enrollment token was already used', null, 'tokens are single use; ask the serving admin for a new one');
        case 'cancelled':
          // Same answer as a used token: the caller learns nothing about activity on the grant.
          return fail(410, 'TOKEN_USED', 'this enrollment token was already used', null, 'tokens are single use; ask the serving admin for a new one');
        case 'expired':
          return fail(410, 'TOKEN_EXPIRED', 'this enrollment token has expired', null, 'tokens live 15 minutes; ask the serving admin for a new one');
      }
    }
    const grant = await storage.grants.get(claim.token.grantId);
    if (grant === null) return fail(404, 'TOKEN_UNKNOWN', 'no such enrollment token', null);
    const expired = grant.expiresAt !== null && Date.parse(grant.expiresAt) <= this.now().getTime();
    if (grant.status === 'revoked' || grant.status === 'expired' || expired) {
      return fail(409, 'GRANT_NOT_ENROLLABLE', `the grant behind this token is ${grant.status === 'active' || grant.status === 'pending' ? 'expired' : grant.status}`, grant);
    }
    if (grant.status === 'active' && !claim.token.reenroll) {
      return fail(409, 'GRANT_NOT_ENROLLABLE', 'the grant is already enrolled', grant, 'the serving admin can make a re-enrollment token: `grant token <id> --reenroll`');
    }
    let issued: Awaited<ReturnType<GatewayCa['issueClientCertificate']>>;
    try {
      issued = await ca.issueClientCertificate(issueOptionsFor(grant, csr));
    } catch (err) {
      return fail(500, 'INTERNAL', `the certificate could not be issued (${(err as Error).message})`, grant);
    }
    let revokedSerials: string[];
    try {
      revokedSerials = await storage.transaction(async (tx) => {
        // Re-read inside the transaction: the grant may have been revoked, or enrolled by a
        // concurrent redeem of another token, since the claim.
        const current = await tx.grants.get(grant.id);
        if (current === null || current.status === 'revoked' || current.status === 'expired') throw new NotEnrollable();
        // The chain (leaf + Step-CA's intermediate; the leaf alone with the embedded CA) is kept:
        // in the Step-CA mode the listener accepts exactly the leaves recorded here (by
        // fingerprint), and learns earlier intermediates from them (ca/step-ca.ts).
        await tx.certs.record({ serial: issued.serialHex, grantId: grant.id, notBefore: issued.notBefore, notAfter: issued.notAfter, certPem: ca.certChainPem(issued.certPem) });
        // One live certificate per grant: every other serial of it stops working at once
        // (re-enrollment, or a concurrent redeem that committed first).
        const revoked = await tx.certs.revokeAllExcept(grant.id, issued.serialHex, { reason: 'superseded' });
        await this.deps.announce?.(tx, [{ kind: 'revoked', serials: revoked }, { kind: 'grant', grantId: grant.id }]);
        await tx.grants.activate(grant.id, issued.serialHex);
        await audit.record(
          { ...auditActor(actor), verb: 'enroll', outcome: 'allowed', statusCode: 200, grantId: grant.id, peer: grant.peerName, subjectUserId: grant.subjectUserId, latencyMs: performance.now() - started },
          tx,
        );
        return revoked;
      });
    } catch (err) {
      // Issued but never recorded: with Step-CA, revoked there (best effort, logged).
      void ca.discardUnrecorded?.(issued.certPem);
      // Nothing about the grant goes back to an anonymous caller; the row says what happened.
      if (err instanceof NotEnrollable || isMosaicError(err)) return fail(409, 'GRANT_NOT_ENROLLABLE', 'the grant behind this token can no longer be enrolled', grant);
      return fail(500, 'INTERNAL', 'the enrollment could not be completed', grant);
    }
    revocation.applied(revokedSerials, { announced: this.deps.announce !== undefined });
    this.deps.onGrantChanged?.(grant.id);
    return {
      certPem: issued.certPem,
      certChainPem: ca.certChainPem(issued.certPem),
      caCertPem: ca.caCertPem,
      grantId: grant.id,
      subjectUserId: grant.subjectUserId,
      serverName: this.deps.name,
      notAfter: issued.notAfter.toISOString(),
    };
  }

  /**
   * What the grant's peer would see of `resource`, row by row, with the rule that decided —
   * from the same pipeline the federation verbs use, with the subject's teams as they are now.
   */
  async explain(idOrPrefix: string, resource: unknown): Promise<ExplainResponse> {
    if (typeof resource !== 'string' || resource === '') {
      throw codedError('VALIDATION_FAILED', 'pass the resource to explain: ?resource=tasks', { details: [{ path: 'resource', message: 'required' }] });
    }
    const { storage } = this.deps;
    const grant = await storage.grants.resolve(idOrPrefix);
    const teamIds = await storage.directory.teamIdsOfUser(grant.subjectUserId);
    const candidates = isResource(resource) ? await storage.resources.listForExplain(resource) : [];
    const { rows } = explainRows(grant.scope, { userId: grant.subjectUserId, teamIds }, { resource }, candidates);
    return { grantId: grant.id, resource, rows };
  }

  /** Mark grants past their expiry as expired. */
  async expireDue(): Promise<void> {
    const expired = await this.deps.storage.grants.expireDue(this.now());
    for (const id of expired) {
      this.deps.revocation.grantClosed(id);
      this.deps.onGrantChanged?.(id);
    }
  }
}
