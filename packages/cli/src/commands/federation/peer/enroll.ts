/**
 * `POST /api/admin/peers` — the gateway makes the key and CSR, enrolls over the pinned
 * connection and proves the link with `capabilities` — made safe to cancel. The gateway
 * finishes a request it has started whatever the client does, so Ctrl-C (or SIGTERM) during
 * the call waits for its answer and removes the peer again if it was stored: a cancelled
 * `peer add` leaves nothing behind. A second Ctrl-C leaves at once, saying what may be left.
 */
import type { AdminClient } from '@mosaic/federation-core/admin-client';
import type { AddPeerRequest, Peer } from '@mosaic/federation-core';
import { displayed } from '../../../render/text.js';

export type EnrollOutcome =
  | { kind: 'added'; peer: Peer }
  /** Cancelled. `spent`: the enrollment had reached the serving side (the token is used) and the peer was removed again. */
  | { kind: 'cancelled'; spent: boolean; peerName?: string };

export interface EnrollHooks {
  /** Called at the first Ctrl-C, while the gateway is still working. */
  onInterrupt?: () => void;
  /** Where the second Ctrl-C says what it leaves (default stderr). */
  stderr?: NodeJS.WriteStream;
}

/** Enroll; on Ctrl-C, undo. Errors of the call itself are thrown as they are (explain them at the caller). */
export async function enrollPeer(admin: AdminClient, body: AddPeerRequest, hooks: EnrollHooks = {}): Promise<EnrollOutcome> {
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      (hooks.stderr ?? process.stderr).write(
        '\nmosaic: interrupted again — leaving now; the gateway may still store the peer: check with `mosaic federation peer list`\n',
      );
      // The only exit outside main(): a person asked twice.
      process.exit(130);
    }
    interrupted = true;
    hooks.onInterrupt?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let peer: Peer;
  try {
    try {
      peer = await admin.addPeer(body);
    } catch (err) {
      if (interrupted) return { kind: 'cancelled', spent: false };
      throw err;
    }
    if (!interrupted) return { kind: 'added', peer };
    try {
      await admin.removePeer(peer.name);
    } catch (err) {
      throw Object.assign(new Error(`cancelled too late: the gateway had stored peer "${displayed(peer.name)}" and removing it failed (${(err as Error).message})`), {
        code: 'PEER_CANCEL_INCOMPLETE',
        remediation: `remove it yourself: mosaic federation peer remove ${peer.name} --yes`,
      });
    }
    return { kind: 'cancelled', spent: true, peerName: peer.name };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** What a cancelled enrollment says, one line. */
export function cancelledMessage(outcome: Extract<EnrollOutcome, { kind: 'cancelled' }>): string {
  return outcome.spent
    ? `Cancelled. The enrollment had already reached the serving gateway, so its token is spent; peer "${displayed(outcome.peerName ?? '')}" was removed again and nothing is stored. Ask for a new token to try again.`
    : 'Cancelled: nothing was stored.';
}
