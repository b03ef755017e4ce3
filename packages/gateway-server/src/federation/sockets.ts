import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { decodeMosaicIdentity, isMosaicError, normaliseSerialHex, verifyClientCertificate } from '@mosaic/federation-core';

/** What the federation listener knows about one TLS socket, worked out once at its handshake. */
export type SocketIdentity =
  | { kind: 'anonymous' }
  | { kind: 'invalid'; code: string; message: string }
  | { kind: 'peer'; grantId: string; subjectUserId: string; serialHex: string; notAfter: number };

type PeerIdentity = Extract<SocketIdentity, { kind: 'peer' }>;

/** How many verified certificates {@link SocketRegistry} remembers (cleared when full). */
const VERIFIED_CACHE_SIZE = 4_096;

/**
 * Identity per TLS socket, worked out once at its handshake (parsing the peer certificate on
 * every request halves throughput — measured): sockets presenting the same certificate get
 * the same (frozen) identity. Also the index of open sockets by grant, so a revoke can close
 * them.
 */
export class SocketRegistry {
  private readonly identities = new WeakMap<TLSSocket, SocketIdentity>();
  /**
   * Certificates that passed the profile check, by SHA-256 of their exact DER: a peer opens
   * many connections with one certificate, and reading it in full (`getPeerCertificate(true)`,
   * the extensions, the key, the signature again) on each cost a sixth of a new connection
   * (`pnpm bench`). What this skips depends only on those bytes; what depends on time or
   * state is still checked on every connection (OpenSSL's chain and validity check at the
   * handshake, revocation right after it, the grant and expiry on every request). Refusals
   * are never remembered: a bad certificate is read in full every time.
   */
  private readonly verified = new Map<string, PeerIdentity>();
  private readonly byGrant = new Map<string, Set<TLSSocket>>();
  /** Requests being served per socket, and sockets to close once they are idle. */
  private readonly inFlight = new WeakMap<TLSSocket, number>();
  private readonly doomed = new WeakSet<TLSSocket>();

  /**
   * Classify a socket right after its handshake. Only an `authorized` socket (its certificate
   * chains to our CA, checked by OpenSSL) can be a peer; the mere presence of a certificate
   * means nothing (SECURITY.md: `getPeerCertificate()` is `{}` — truthy — without one).
   */
  classify(socket: TLSSocket): SocketIdentity {
    let identity: SocketIdentity;
    if (!socket.authorized) {
      identity = { kind: 'anonymous' };
    } else {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      const known = fingerprint === undefined ? undefined : this.verified.get(fingerprint);
      try {
        if (known !== undefined) identity = known;
        else {
          const cert = socket.getPeerCertificate(true);
          const { grantId, subjectUserId } = decodeMosaicIdentity(cert.raw);
          // OpenSSL's chain check accepts a leaf with CA:TRUE, keyCertSign or no extendedKeyUsage
          // at all (SECURITY.md 7a): the Mosaic client profile is checked here, once per
          // certificate, against the issuer OpenSSL verified the chain with (our CA).
          verifyClientCertificate(cert.raw, issuerOf(cert), { purpose: 'client' });
          const peer: PeerIdentity = Object.freeze({ kind: 'peer', grantId, subjectUserId, serialHex: normaliseSerial(cert.serialNumber), notAfter: Date.parse(cert.valid_to) } as const);
          if (fingerprint !== undefined) {
            if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
            this.verified.set(fingerprint, peer);
          }
          identity = peer;
        }
      } catch (err) {
        identity = isMosaicError(err)
          ? { kind: 'invalid', code: err.code, message: err.message }
          : { kind: 'invalid', code: 'IDENTITY_INVALID', message: 'the client certificate could not be read' };
      }
    }
    this.identities.set(socket, identity);
    if (identity.kind === 'peer') {
      let set = this.byGrant.get(identity.grantId);
      if (!set) this.byGrant.set(identity.grantId, (set = new Set()));
      set.add(socket);
      const grantId = identity.grantId;
      socket.once('close', () => {
        const s = this.byGrant.get(grantId);
        s?.delete(socket);
        if (s?.size === 0) this.byGrant.delete(grantId);
      });
    }
    return identity;
  }

  /** The identity worked out at the handshake (anonymous for a socket never classified). */
  identityOf(socket: TLSSocket): SocketIdentity {
    return this.identities.get(socket) ?? { kind: 'anonymous' };
  }

  /** A request on `socket` started being served (the listener's onRequest). */
  requestStarted(socket: TLSSocket): void {
    this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
  }

  /** A request on `socket` was answered (or its connection went): close it now if it was doomed. */
  requestFinished(socket: TLSSocket): void {
    const n = (this.inFlight.get(socket) ?? 1) - 1;
    this.inFlight.set(socket, n);
    if (n <= 0 && this.doomed.has(socket)) socket.destroySoon();
  }

  /**
   * End a socket: an idle one at once; one serving a request once that answer is out (the
   * verbs turn an answer for a serial revoked meanwhile into 403, so nothing more leaves).
   */
  #close(socket: TLSSocket): void {
    if ((this.inFlight.get(socket) ?? 0) > 0) this.doomed.add(socket);
    else socket.destroySoon();
  }

  /**
   * Close a grant's sockets (all of them, or those not carrying `keepSerial`): idle ones at
   * once (`destroySoon`), busy ones right after their current answer, so no further request
   * on them reaches a handler.
   */
  closeGrant(grantId: string, options: { keepSerial?: string } = {}): number {
    let closed = 0;
    for (const socket of this.byGrant.get(grantId) ?? []) {
      const identity = this.identities.get(socket);
      if (options.keepSerial !== undefined && identity?.kind === 'peer' && identity.serialHex === options.keepSerial) continue;
      this.#close(socket);
      closed++;
    }
    return closed;
  }

  /** Close every socket whose serial is in `serials`. */
  closeSerials(serials: Set<string>): number {
    let closed = 0;
    for (const set of this.byGrant.values()) {
      for (const socket of set) {
        const identity = this.identities.get(socket);
        if (identity?.kind === 'peer' && serials.has(identity.serialHex)) {
          this.#close(socket);
          closed++;
        }
      }
    }
    return closed;
  }

  /** Open peer sockets (for metrics and tests). */
  get openPeerSockets(): number {
    let n = 0;
    for (const set of this.byGrant.values()) n += set.size;
    return n;
  }
}

/** The certificate OpenSSL verified `cert` with (for a leaf of our root: the root). */
function issuerOf(cert: DetailedPeerCertificate): Buffer {
  const issuer = cert.issuerCertificate as DetailedPeerCertificate | undefined;
  if (issuer?.raw === undefined) throw new TypeError('the client certificate has no verified issuer');
  return issuer.raw;
}

/** Node prints serials as upper-case hex; we compare them in the pki module's normal form. */
export function normaliseSerial(serial: string): string {
  return normaliseSerialHex(serial) ?? serial.toLowerCase();
}
