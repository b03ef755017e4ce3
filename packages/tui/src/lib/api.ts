/**
 * What the TUI needs of a gateway: the methods of the one shared admin client
 * (`@mosaic/federation-core/admin-client`). Screens take this narrow type, so a test can pass
 * a small fake; the real program passes an `AdminClient`.
 */
import type { AdminClient } from '@mosaic/federation-core/admin-client';

export type AdminApi = Pick<
  AdminClient,
  | 'baseUrl'
  | 'status'
  | 'listPeers'
  | 'getPeer'
  | 'renewPeer'
  | 'removePeer'
  | 'previewPeer'
  | 'addPeer'
  | 'listGrants'
  | 'getGrant'
  | 'updateGrant'
  | 'revokeGrant'
  | 'createToken'
  | 'explainGrant'
  | 'audit'
  | 'auditStream'
>;

/** One line for a person from any error the admin client throws (escaped by the caller). */
export function errorText(err: unknown): string {
  if (err === null || err === undefined) return '';
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : JSON.stringify(err);
  return typeof e.code === 'string' && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

/** True for errors that mean "the gateway is not there" rather than "it said no". */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown };
  return e?.code === 'GATEWAY_UNREACHABLE' || e?.name === 'GatewayUnreachableError';
}
