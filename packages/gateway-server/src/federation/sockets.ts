import type { TLSSocket } from 'node:tls';
import { decodeMosaicIdentity, isMosaicError, normaliseSerialHex } from '@mosaic/federation-core';

/** What the federation listener knows about one TLS socket, worked out once at its handshake. */
export type SocketIdentity =
  | { kind: 'anonymous' }
  | { kind: 'invalid'; code: string; message: string }
  | { kind: 'peer'; grantId: string; subjectUserId: string; serialHex: string; notAfter: number };

/**
 * Identity per TLS socket, parsed once (parsing the peer certificate on every request halves
 * throughput — measured) and never shared between sockets. Also the index of open sockets by
 * grant, so a revoke can close them.
 */
export class SocketRegistry {
  private readonly identities = new WeakMap<TLSSocket, SocketIdentity>();
  private readonly byGrant = new Map<string, Set<TLSSocket>>();

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
      const cert = socket.getPeerCertificate(false);
      try {
        const { grantId, subjectUserId } = decodeMosaicIdentity(cert.raw);
        identity = { kind: 'peer', grantId, subjectUserId, serialHex: normaliseSerial(cert.serialNumber), notAfter: Date.parse(cert.valid_to) };
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

  /**
   * Close a grant's sockets (all of them, or those not carrying `keepSerial`): the write side
   * is ended at once (`destroySoon`), so no further request on them reaches a handler.
   */
  closeGrant(grantId: string, options: { keepSerial?: string } = {}): number {
    let closed = 0;
    for (const socket of this.byGrant.get(grantId) ?? []) {
      const identity = this.identities.get(socket);
      if (options.keepSerial !== undefined && identity?.kind === 'peer' && identity.serialHex === options.keepSerial) continue;
      socket.destroySoon();
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
          socket.destroySoon();
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

/** Node prints serials as upper-case hex; we compare them in the pki module's normal form. */
export function normaliseSerial(serial: string): string {
  return normaliseSerialHex(serial) ?? serial.toLowerCase();
}
