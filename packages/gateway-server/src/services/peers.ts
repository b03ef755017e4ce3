import {
  codedError,
  quoteForDisplay,
  createCsr,
  enrollWithPin,
  exportPrivateKeyPem,
  generateKeyPair,
  parseOrThrow,
  previewPeerCa,
  sealText,
  addPeerRequestSchema,
  peerPreviewRequestSchema,
  type Peer,
  type PeerPreview,
  type SealKey,
} from '@mosaic/federation-core';
import type { PeerRecord, Storage } from '../storage/index.js';
import { PEER_NAME, type Actor } from './grants.js';
import { auditActor, type AuditWriter } from './audit.js';

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
    return { caPin: preview.caPin, serverName: preview.serverName };
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
    const sealedKey = sealText(sealKey, keyPem, { recordId: peerKeyRecordId(name) });
    const cert = new (await import('node:crypto')).X509Certificate(enrolled.certPem);
    const record = await storage.transaction(async (tx) => {
      const peer = await tx.peers.insert({
        name,
        endpoint: new URL(input.enrollmentUrl).origin,
        serverName: enrolled.serverName,
        localUserId: input.localUserId ?? enrolled.subjectUserId,
        grantId: enrolled.grantId,
        subjectUserId: enrolled.subjectUserId,
        caCertPem: enrolled.caPem,
        caPin: enrolled.caPin,
        certPem: enrolled.certPem,
        sealedKey,
        certSerial: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
        certNotBefore: new Date(cert.validFrom),
        certNotAfter: new Date(enrolled.notAfter),
      });
      await audit.record({ ...auditActor(actor), verb: 'admin.peer.add', outcome: 'allowed', statusCode: 201, peer: name, grantId: enrolled.grantId, subjectUserId: enrolled.subjectUserId }, tx);
      return peer;
    });
    return toPeer(record);
  }

  async list(): Promise<{ items: Peer[] }> {
    return { items: (await this.deps.storage.peers.list()).map((p) => toPeer(p)) };
  }

  async get(name: string): Promise<Peer> {
    const record = await this.deps.storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    return toPeer(record);
  }

  async remove(name: string, actor: Actor): Promise<{ removed: string }> {
    const { storage, audit } = this.deps;
    const record = await storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    await storage.transaction(async (tx) => {
      await tx.peers.delete(name);
      await audit.record({ ...auditActor(actor), verb: 'admin.peer.remove', outcome: 'allowed', statusCode: 200, peer: name, grantId: record.grantId, subjectUserId: record.subjectUserId }, tx);
    });
    return { removed: name };
  }
}
