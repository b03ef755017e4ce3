/**
 * The requesting side's way out: an mTLS {@link FederationClient} for a stored peer, its
 * private key unsealed in this process only (bound to the peer's record id, so a sealed
 * blob moved to another peer's row does not open). The fan-out, the shared cache and the
 * renewal job build on this.
 */
import { codedError, FederationClient, openText, quoteForDisplay, type FederationClientOptions, type SealKey } from '@mosaic/federation-core';
import type { PeerRecord, Storage } from '../storage/index.js';
import { peerKeyRecordId } from './peers.js';

/** What a client for a peer is made from. The key is PEM in memory, never written anywhere. */
export interface PeerCredentials {
  readonly peerName: string;
  readonly endpoint: string;
  readonly grantId: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Client options the caller may set; identity and trust always come from the stored peer. */
export type PeerClientOptions = Omit<FederationClientOptions, keyof PeerCredentials>;

export class PeerClients {
  constructor(private readonly deps: { storage: Storage; sealKey: SealKey }) {}

  /** The stored peer's endpoint, trust anchor and unsealed credentials. @throws PEER_NOT_FOUND */
  async credentials(name: string): Promise<PeerCredentials> {
    const record = await this.deps.storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    return this.credentialsOf(record);
  }

  credentialsOf(record: PeerRecord): PeerCredentials {
    const keyPem = openText(this.deps.sealKey, record.sealedKey, { recordId: peerKeyRecordId(record.name) }).toString('utf8');
    return { peerName: record.name, endpoint: record.endpoint, grantId: record.grantId, caPem: record.caCertPem, certPem: record.certPem, keyPem };
  }

  /** A new client for the peer (the caller closes it). @throws PEER_NOT_FOUND */
  async client(name: string, options: PeerClientOptions = {}): Promise<FederationClient> {
    return new FederationClient({ ...options, ...(await this.credentials(name)) });
  }

  /** A new client for a peer record already read (the caller closes it). */
  clientFor(record: PeerRecord, options: PeerClientOptions = {}): FederationClient {
    return new FederationClient({ ...options, ...this.credentialsOf(record) });
  }
}
