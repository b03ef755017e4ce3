/**
 * The hooks that own the data of each screen: they call the admin client and hand plain
 * values to presentational components.
 */
import { useMemo } from 'react';
import type { AuditRow, Grant, Peer, StatusReport } from '@mosaic/federation-core';
import type { AdminApi } from '../lib/api.js';
import { isUnreachable } from '../lib/api.js';
import { usePoll, type Poll } from './usePoll.js';

export type ConnectionState = 'connecting' | 'live' | 'down' | 'refused';

export interface Connection {
  state: ConnectionState;
  status: StatusReport | undefined;
  error: unknown;
  retry: () => void;
}

/** The gateway's status, polled: `live`, `down` (unreachable, retried by itself) or `refused` (auth). */
export function useConnection(api: AdminApi, intervalMs = 2000): Connection {
  const poll = usePoll(() => api.status(), intervalMs, api);
  const state: ConnectionState = poll.loading ? 'connecting' : poll.error === undefined ? 'live' : isUnreachable(poll.error) ? 'down' : 'refused';
  return { state, status: poll.data, error: poll.error, retry: poll.refresh };
}

export function usePeers(api: AdminApi, intervalMs = 2000): Poll<Peer[]> {
  return usePoll(async () => (await api.listPeers()).items, intervalMs, api);
}

export function useGrants(api: AdminApi, intervalMs = 2000): Poll<Grant[]> {
  return usePoll(async () => (await api.listGrants()).items, intervalMs, api);
}

export interface GrantActivity {
  requests: number;
  denied: number;
}

/** Requests and refusals per grant over the last hour, from the audit trail (every 10 s). */
export function useGrantActivity(api: AdminApi, intervalMs = 10_000): Map<string, GrantActivity> {
  const poll = usePoll(async () => (await api.audit({ since: '1h', limit: 10_000 })).items, intervalMs, api);
  return useMemo(() => activityByGrant(poll.data ?? []), [poll.data]);
}

export function activityByGrant(rows: readonly AuditRow[]): Map<string, GrantActivity> {
  const out = new Map<string, GrantActivity>();
  for (const row of rows) {
    if (row.grantId === null || row.verb.startsWith('admin.')) continue;
    const a = out.get(row.grantId) ?? { requests: 0, denied: 0 };
    a.requests++;
    if (row.outcome !== 'allowed') a.denied++;
    out.set(row.grantId, a);
  }
  return out;
}
