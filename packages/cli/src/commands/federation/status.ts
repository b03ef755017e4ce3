import { Command } from 'commander';
import type { AuditRow, Grant, ListOf, Peer, StatusReport } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../context.js';
import { paint, printResult, type Style } from '../../output.js';
import { displayed, plural, relativeTime, relativeWhen, renderTable, type Column } from '../../render/text.js';
import { scopeResources, statusStyle } from './grant/render.js';
import { shortId } from './grant/shared.js';

/** The audit window of the per-grant counts. */
export const USAGE_WINDOW = '1h';
/** At most this many audit rows are read for the counts (the API's largest page). */
export const USAGE_ROW_LIMIT = 10_000;
const DAY = 86_400_000;

/** Requests, denials and rate-limit refusals of one grant in the window. */
export interface GrantUsage {
  requests: number;
  denied: number;
  rateLimited: number;
}

/**
 * `federation status --json`: the admin API bodies it was built from, as they came, plus the
 * per-grant counts derived from `GET /api/admin/audit?since=1h`.
 */
export interface FederationStatus {
  status: StatusReport;
  peers: ListOf<Peer>;
  grants: ListOf<Grant>;
  usage: { since: string; complete: boolean; grants: Record<string, GrantUsage> };
}

/** Rows of federation traffic (not admin changes, enrollments or local queries), counted per grant. */
export function usageByGrant(rows: readonly AuditRow[]): Record<string, GrantUsage> {
  const out: Record<string, GrantUsage> = {};
  for (const r of rows) {
    if (r.grantId === null || r.verb.startsWith('admin.') || r.verb === 'enroll' || r.verb === 'query') continue;
    const u = (out[r.grantId] ??= { requests: 0, denied: 0, rateLimited: 0 });
    u.requests++;
    if (r.outcome === 'denied') u.denied++;
    if (r.outcome === 'rate_limited') u.rateLimited++;
  }
  return out;
}

const PEER_STYLE: Record<string, Style> = { active: 'green', degraded: 'yellow', revoked: 'red' };

function certCell(p: Peer, now: number): string {
  const left = Date.parse(p.certNotAfter) - now;
  const when = relativeWhen(p.certNotAfter, now);
  return left < 3 * DAY ? `${when} ⚠` : when;
}

/** A peer's recent median latency for a table cell: `6 ms`, `1.2 s`, or `—` with no recent call (or an older gateway). */
export function latencyCell(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `federation status` for a person (UX.md): the gateway, the peers it reads from, the grants others read through. */
export function renderStatus(s: FederationStatus, options: { now: number; color: boolean }): string {
  const { now, color } = options;
  const st = s.status;
  const g = st.counts.grants;
  const p = st.counts.peers;
  const lines = [
    `${paint(color, 'cyan', '◆')} ${paint(color, 'bold', `gateway "${displayed(st.name)}"`)} ${displayed(st.version)} — up ${relativeTime(st.startedAt, now).replace(/ ago$/, '')} · ${st.storage.engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} · CA ${displayed(st.ca.caPin.slice(0, 23))}…`,
    `  grants ${g.active} active · ${g.pending} pending · ${g.revoked} revoked · ${g.expired} expired`,
    `  peers  ${p.active} active · ${p.degraded} degraded · ${p.revoked} revoked`,
  ];
  if (st.audit.spoolBacklog > 0 || st.audit.unavailableRefusals > 0) {
    lines.push(`  audit  ${st.audit.spoolBacklog} rows waiting to ship${st.audit.unavailableRefusals > 0 ? paint(color, 'red', ` · ${st.audit.unavailableRefusals} requests refused (spool unwritable)`) : ''}`);
  }
  lines.push('', paint(color, 'bold', 'PEERS (this gateway reads from)'));
  const offline = new Map((st.peers ?? []).map((h) => [h.name, h.offlineSince]));
  const latency = new Map((st.peers ?? []).map((h) => [h.name, h.latencyP50Ms]));
  if (s.peers.items.length === 0) lines.push(paint(color, 'dim', '  none — add one with `mosaic federation peer add`'));
  else {
    const peerColumns: Column<Peer>[] = [
      { title: 'NAME', width: 10, cell: (x) => x.name },
      { title: 'STATE', width: 8, cell: (x) => x.state, style: (x) => PEER_STYLE[x.state] ?? 'dim' },
      { title: 'CERT EXPIRES', width: 12, cell: (x) => certCell(x, now) },
      { title: 'LAST OK', width: 8, cell: (x) => (x.lastSuccessAt === null ? '—' : relativeTime(x.lastSuccessAt, now)) },
      { title: 'LAST ERROR', width: 19, cell: (x) => (offline.get(x.name) ? `offline: ${x.lastError ?? ''}` : (x.lastError ?? '—')) },
      { title: 'CIRCUIT', width: 9, cell: (x) => x.circuit, style: (x) => (x.circuit === 'closed' ? undefined : 'yellow') },
      { title: 'P50', width: 6, right: true, cell: (x) => latencyCell(latency.get(x.name)) },
    ];
    lines.push(renderTable(peerColumns, s.peers.items, color));
  }
  lines.push('', paint(color, 'bold', 'GRANTS (others read from this gateway)'));
  const live = s.grants.items.filter((x) => x.status === 'active' || x.status === 'pending');
  if (live.length === 0) lines.push(paint(color, 'dim', '  no active or pending grants — make one with `mosaic federation grant create`'));
  else {
    const more = s.usage.complete ? '' : '+';
    const use = (x: Grant): GrantUsage => s.usage.grants[x.id] ?? { requests: 0, denied: 0, rateLimited: 0 };
    const grantColumns: Column<Grant>[] = [
      { title: 'ID', width: 9, cell: (x) => `${shortId(x.id)}…` },
      { title: 'SUBJECT', width: 9, cell: (x) => x.subjectUserId },
      { title: 'PEER', width: 9, cell: (x) => x.peerName },
      { title: 'STATUS', width: 8, cell: (x) => x.status, style: (x) => statusStyle(x.status) },
      { title: 'RESOURCES', width: 16, cell: (x) => scopeResources(x.scope) },
      { title: 'REQ/1h', width: 7, right: true, cell: (x) => `${use(x).requests}${more}` },
      { title: 'DENIED', width: 6, right: true, cell: (x) => String(use(x).denied), style: (x) => (use(x).denied > 0 ? 'red' : undefined) },
      { title: '429', width: 5, right: true, cell: (x) => String(use(x).rateLimited), style: (x) => (use(x).rateLimited > 0 ? 'yellow' : undefined) },
    ];
    lines.push(renderTable(grantColumns, live, color));
    const ended = s.grants.items.length - live.length;
    if (ended > 0) lines.push(paint(color, 'dim', `  and ${plural(ended, 'revoked or expired grant')}: mosaic federation grant list`));
  }
  return lines.join('\n');
}

/** `mosaic federation status` — one screen: this gateway, its peers, its grants and their last hour. */
export function statusCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('status')
    .description('this gateway, the peers it reads from, and the grants others read through (with their last hour)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation status
  mosaic federation status --json | jq '.usage.grants'

--json prints {"status","peers","grants","usage"}: the bodies of GET /api/admin/status,
/api/admin/peers and /api/admin/grants as they came, and per grant id the requests, denials and
429s of the last hour counted from GET /api/admin/audit?since=1h ("complete": false when that
hour held more than ${USAGE_ROW_LIMIT} audit rows; the counts are then lower bounds).
P50 is the median latency of this gateway's calls to the peer that reached it (the last 50,
none older than 10 min; status.peers[].latencyP50Ms), — when there was none.`,
    )
    .action((_flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const admin = adminClient(g, version);
        const [status, peers, grants, audit] = await Promise.all([
          admin.status(),
          admin.listPeers(),
          admin.listGrants(),
          admin.audit({ since: USAGE_WINDOW, limit: USAGE_ROW_LIMIT }),
        ]);
        const body: FederationStatus = {
          status,
          peers,
          grants,
          usage: { since: USAGE_WINDOW, complete: audit.items.length < USAGE_ROW_LIMIT, grants: usageByGrant(audit.items) },
        };
        printResult(out, body, () => renderStatus(body, { now: Date.now(), color: out.color }));
      }),
    );
}
