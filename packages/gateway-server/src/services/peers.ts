import {
  normaliseSerialHex,
  codedError,
  FederationClient,
  FederationRequestError,
  isMosaicError,
  MosaicError,
  quoteForDisplay,
  createCsr,
  enrollWithPin,
  exportPrivateKeyPem,
  generateKeyPair,
  parseEnrollmentUrl,
  parseOrThrow,
  previewPeerCa,
  sealText,
  addPeerRequestSchema,
  peerPreviewRequestSchema,
  type CapabilitiesResponse,
  type CircuitState,
  type Peer,
  type PeerPreview,
  type PeerRemoved,
  type SealKey,
} from '@mosaic/federation-core';
import type { PeerRecord, Storage } from '../storage/index.js';
import { PEER_NAME, type Actor } from './grants.js';
import { auditActor, type AuditWriter } from './audit.js';
import type { Tracing } from '../tracing.js';

const DAY = 86_400_000;

/**
 * When a peer certificate's renewal is due (CONTRACT.md, one policy for everyone): once 2/3
 * of its lifetime has passed, and never later than 7 days before it expires.
 */
export function renewalDueAt(notBefore: string, notAfter: string): string {
  const from = Date.parse(notBefore);
  const to = Date.parse(notAfter);
  return new Date(Math.min(from + ((to - from) * 2) / 3, to - 7 * DAY)).toISOString();
}

/** The wire form of a stored peer. The sealed key and the certificate PEM stay inside. */
export function toPeer(record: PeerRecord, circuit: Peer['circuit'] = 'closed'): Peer {
  return {
    name: record.name,
    endpoint: record.endpoint,
    state: record.state,
    localUserId: record.localUserId,
    grantId: record.grantId,
    subjectUserId: record.subjectUserId,
    certSerial: record.certSerial,
    certNotAfter: record.certNotAfter,
    renewalDueAt: renewalDueAt(record.certNotBefore, record.certNotAfter),
    caPin: record.caPin,
    capabilities: record.capabilities,
    lastSuccessAt: record.lastSuccessAt,
    lastFailureAt: record.lastFailureAt,
    lastError: record.lastError,
    circuit,
    renewalFailingSince: record.renewalFailedSince,
  };
}

/** The record id a peer's sealed key is bound to: a blob moved to another peer does not open. */
export function peerKeyRecordId(name: string): string {
  return `peer/${name}`;
}

export interface PeerServiceDeps {
  storage: Storage;
  sealKey: SealKey;
  audit: AuditWriter;
  /** The live links (circuit state for the Peer body; dropped when a peer is removed). */
  connections?: { circuit(name: string): CircuitState; invalidate(name: string): Promise<void> };
  /** Time limit of the capabilities check that proves a new link (default 10 s). */
  linkCheckTimeoutMs?: number;
  /** Certificate renewal (`peer renew`; see services/renewal.ts). */
  renewal?: { renew(name: string, options: { actor: Actor; manual: boolean }): Promise<PeerRecord> };
  /** Spans and the traceparent sent with the link check (every federation call carries one). */
  tracing?: Pick<Tracing, 'startServerSpan' | 'startClientSpan'>;
}

/**
 * The requesting side's peers: preview a serving gateway's CA pin, enroll (key and CSR made
 * here — the private key never leaves this process unsealed), list, show, remove.
 */
export class PeerService {
  constructor(private readonly deps: PeerServiceDeps) {}

  async preview(body: unknown): Promise<PeerPreview> {
    const input = parseOrThrow(peerPreviewRequestSchema, body, { code: 'VALIDATION_FAILED', what: 'preview request' });
    const preview = await previewPeerCa(input.enrollmentUrl);
    // The wizard's default peer name: the serving gateway's own, as its embedded CA's subject says.
    const named = /^CN=Mosaic Federation CA \((.+)\)$/m.exec(new (await import('node:crypto')).X509Certificate(preview.caPem).subject.trim());
    const gatewayName = named?.[1] !== undefined && PEER_NAME.test(named[1]) ? named[1] : undefined;
    return { caPin: preview.caPin, serverName: preview.serverName, ...(gatewayName === undefined ? {} : { gatewayName }) };
  }

  async add(body: unknown, actor: Actor): Promise<Peer> {
    const input = parseOrThrow(addPeerRequestSchema, body, { code: 'VALIDATION_FAILED', what: 'peer' });
    const { storage, sealKey, audit } = this.deps;
    if (input.name !== undefined && !PEER_NAME.test(input.name)) {
      throw codedError('VALIDATION_FAILED', `peer name ${quoteForDisplay(input.name)} must be 1–64 characters of a-z, 0-9, ".", "_", "-"`, {
        details: [{ path: 'name', message: 'must be 1–64 characters of a-z, 0-9, ".", "_", "-"' }],
      });
    }
    if (input.name !== undefined && (await storage.peers.get(input.name)) !== null) {
      throw codedError('PEER_EXISTS', `a peer named ${quoteForDisplay(input.name)} exists already`, { remediation: `pick another --name, or remove it first: mosaic federation peer remove ${input.name}` });
    }
    // Without --name the peer takes the serving gateway's name. Learn it before the token is
    // spent (its CA's subject says it in embedded mode), so a name in use is refused while the
    // token still works; the check after enrollment below stays for CAs that do not say it.
    if (input.name === undefined) {
      const { gatewayName } = await this.preview({ enrollmentUrl: input.enrollmentUrl });
      if (gatewayName !== undefined && (await storage.peers.get(gatewayName)) !== null) {
        throw codedError('PEER_EXISTS', `a peer named ${quoteForDisplay(gatewayName)} exists already (the serving gateway's name); the token was not used`, {
          remediation: 'pass --name with a name not in use, or remove the old peer first: mosaic federation peer remove ' + gatewayName,
        });
      }
    }
    const keys = await generateKeyPair({ extractable: true });
    const csrPem = await createCsr({ keys });
    const enrolled = await enrollWithPin(input.enrollmentUrl, input.caPin, csrPem);
    // The serving side chose serverName: it becomes our name for the peer only if it is a clean name.
    const name = input.name ?? (PEER_NAME.test(enrolled.serverName) ? enrolled.serverName : null);
    if (name === null) {
      throw codedError('VALIDATION_FAILED', 'the serving gateway\'s name cannot be used as a peer name; the token was spent', {
        remediation: 'ask for a new token and pass --name',
      });
    }
    if (input.name === undefined && (await storage.peers.get(name)) !== null) {
      throw codedError('PEER_EXISTS', `a peer named ${quoteForDisplay(name)} exists already; the token was spent`, {
        remediation: 'ask the serving admin for a new token and pass --name with a name not in use',
      });
    }
    const keyPem = await exportPrivateKeyPem(keys.privateKey);
    // where enrollment went: the origin and any path prefix the serving side is mounted under
    // (`https://h/prefix`), which every later call (and the CRL) is sent under too
    const endpoint = parseEnrollmentUrl(input.enrollmentUrl).baseUrl;
    // Prove the link before anything is stored: one `capabilities` call over mTLS with the new
    // certificate. If it fails nothing is kept — the key never reaches the store.
    // what we present over mTLS: the certificate with the intermediates up to the pinned root
    // (Step-CA mode; just the certificate when the root signs it), verified by enrollWithPin
    const capabilities = await this.proveLink({ name, endpoint, caPem: enrolled.caPem, certPem: enrolled.certChainPem, keyPem, grantId: enrolled.grantId });
    const sealedKey = sealText(sealKey, keyPem, { recordId: peerKeyRecordId(name) });
    const cert = new (await import('node:crypto')).X509Certificate(enrolled.certPem);
    const record = await storage.transaction(async (tx) => {
      await tx.peers.insert({
        name,
        endpoint,
        serverName: enrolled.serverName,
        localUserId: input.localUserId ?? enrolled.subjectUserId,
        grantId: enrolled.grantId,
        subjectUserId: enrolled.subjectUserId,
        caCertPem: enrolled.caPem,
        caPin: enrolled.caPin,
        certPem: enrolled.certChainPem,
        sealedKey,
        certSerial: normaliseSerialHex(cert.serialNumber) ?? cert.serialNumber.toLowerCase(),
        certNotBefore: new Date(cert.validFrom),
        certNotAfter: new Date(enrolled.notAfter),
        capabilities,
      });
      const proven = await tx.peers.recordSuccess(name);
      await audit.record({ ...auditActor(actor), verb: 'admin.peer.add', outcome: 'allowed', statusCode: 201, peer: name, grantId: enrolled.grantId, subjectUserId: enrolled.subjectUserId }, tx);
      return proven;
    });
    return toPeer(record, this.circuit(name));
  }

  /**
   * The first request over the new link: `capabilities`, with the certificate just issued. Its
   * failure says why, and that the token is spent (a grant that enrolled needs a
   * re-enrollment token now).
   */
  private async proveLink(link: { name: string; endpoint: string; caPem: string; certPem: string; keyPem: string; grantId: string }): Promise<CapabilitiesResponse> {
    const root = this.deps.tracing?.startServerSpan('admin peer add', null, { peer: link.name });
    const span = root === undefined ? undefined : this.deps.tracing?.startClientSpan('federation capabilities', root, { peer: link.name });
    const client = new FederationClient({
      peerName: link.name,
      endpoint: link.endpoint,
      caPem: link.caPem,
      certPem: link.certPem,
      keyPem: link.keyPem,
      grantId: link.grantId,
      breaker: false,
      cache: false,
      timeoutMs: this.deps.linkCheckTimeoutMs ?? 10_000,
      ...(span === undefined ? {} : { headers: () => ({ traceparent: span.traceparent() }) }),
    });
    try {
      const body = (await client.capabilities()).body;
      span?.end('ok');
      root?.end('ok');
      return body;
    } catch (err) {
      span?.end('error');
      root?.end('error');
      const remediation = `nothing was kept; the token is spent — ask the serving admin for a new one (\`mosaic federation grant token ${link.grantId} --reenroll\`) and run peer add again once the cause is fixed`;
      const why = err instanceof FederationRequestError ? `${err.status} ${err.code} (${err.message})` : isMosaicError(err) ? err.message : 'unexpected error';
      const message = `enrolled, but the first request over mTLS (capabilities) failed: ${why}; nothing was kept and the enrollment token is spent`;
      if (err instanceof FederationRequestError) {
        throw new MosaicError('PEER_ERROR', message, 502, { remediation, details: { remoteCode: err.code, remoteStatus: err.status }, cause: err });
      }
      throw new MosaicError(isMosaicError(err) && err.statusCode >= 500 ? err.code : 'PEER_UNREACHABLE', message, 502, { remediation, cause: err });
    } finally {
      await client.close();
    }
  }

  private circuit(name: string): CircuitState {
    return this.deps.connections?.circuit(name) ?? 'closed';
  }

  async list(): Promise<{ items: Peer[] }> {
    return { items: (await this.deps.storage.peers.list()).map((p) => toPeer(p, this.circuit(p.name))) };
  }

  async get(name: string): Promise<Peer> {
    const record = await this.deps.storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    return toPeer(record, this.circuit(name));
  }

  /**
   * Renew the peer's certificate now (`POST /api/admin/peers/:name/renew`), whether or not
   * this side thinks it is due: the serving side decides (409 RENEWAL_NOT_DUE passes through).
   */
  async renew(name: string, actor: Actor): Promise<Peer> {
    if (this.deps.renewal === undefined) throw codedError('INTERNAL', 'renewal is not configured on this gateway');
    const record = await this.deps.renewal.renew(name, { actor, manual: true });
    return toPeer(record, this.circuit(name));
  }

  async remove(name: string, actor: Actor): Promise<PeerRemoved> {
    const { storage, audit } = this.deps;
    const record = await storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    await storage.transaction(async (tx) => {
      await tx.peers.delete(name);
      await audit.record({ ...auditActor(actor), verb: 'admin.peer.remove', outcome: 'allowed', statusCode: 200, peer: name, grantId: record.grantId, subjectUserId: record.subjectUserId }, tx);
    });
    // its cached answers go, and its connections close
    await this.deps.connections?.invalidate(name);
    return { name, removed: true };
  }
}
