/**
 * How peers look on a terminal: the 80-column list, the detail of one peer, what `add` says
 * once a peer is linked, the decoded certificate of `inspect`, and CA pins in groups of four
 * for people to compare. Pure functions of their input (and `now`); every value that came from
 * a gateway goes through `displayed` (SECURITY.md case 35): peer names are checked by the
 * gateway, but user ids, errors and the serving side's capabilities are not.
 */
import type { Peer } from '@mosaic/federation-core';
import { paint, type Style } from '../../../output.js';
import { displayed, keyValues, relativeTime, relativeWhen, renderTable, shortTime, type Column } from '../../../render/text.js';

const STATE_STYLE: Record<string, Style> = { active: 'green', degraded: 'yellow', revoked: 'red' };
const CIRCUIT_STYLE: Record<string, Style> = { closed: 'green', half_open: 'yellow', open: 'red' };

/** Where a peer's certificate stands on the renewal policy (CONTRACT.md): due once `renewalDueAt` has passed. */
export interface RenewalStanding {
  due: boolean;
  expired: boolean;
  /** Under 3 days left (doctor's red). */
  urgent: boolean;
}

/** The renewal standing of `peer` at `now`. An unreadable date counts as due: better a renewal too many. */
export function renewalStanding(peer: Pick<Peer, 'renewalDueAt' | 'certNotAfter'>, now: number): RenewalStanding {
  const dueAt = Date.parse(peer.renewalDueAt);
  const notAfter = Date.parse(peer.certNotAfter);
  const expired = !Number.isFinite(notAfter) || notAfter <= now;
  return { due: expired || !Number.isFinite(dueAt) || dueAt <= now, expired, urgent: expired || notAfter - now < 3 * 86_400_000 };
}

/** `in 23d`, `in 2d ⚠` once renewal is due, `expired 3d ago`. */
export function expiryCell(peer: Peer, now: number): string {
  const s = renewalStanding(peer, now);
  if (s.expired) {
    const ago = relativeTime(peer.certNotAfter, now);
    return ago === 'now' ? 'expired' : `expired ${ago}`;
  }
  return `${relativeWhen(peer.certNotAfter, now)}${s.due ? ' ⚠' : ''}`;
}

function expiryStyle(peer: Peer, now: number): Style | undefined {
  const s = renewalStanding(peer, now);
  return s.urgent ? 'red' : s.due ? 'yellow' : undefined;
}

/**
 * A serial as people quote it: hex bytes with colons, cut after `bytes` bytes.
 * @example shortSerial('4c19a2ff00') // '4c:19:a2:…'
 */
export function shortSerial(serial: string, bytes = 3): string {
  const hex = displayed(serial).toLowerCase();
  const padded = hex.length % 2 === 1 ? `0${hex}` : hex;
  const pairs = padded.match(/.{2}/g) ?? [padded];
  return pairs.length <= bytes ? pairs.join(':') : `${pairs.slice(0, bytes).join(':')}:…`;
}

/** The list: one row per peer, 80 columns at most. */
export function renderPeerTable(peers: readonly Peer[], options: { now: number; color: boolean }): string {
  const { now } = options;
  const columns: Column<Peer>[] = [
    { title: 'NAME', width: 16, cell: (p) => p.name },
    { title: 'STATE', width: 8, cell: (p) => p.state, style: (p) => STATE_STYLE[p.state] },
    { title: 'LOCAL USER', width: 14, cell: (p) => p.localUserId },
    { title: 'CERT EXPIRES', width: 15, cell: (p) => expiryCell(p, now), style: (p) => expiryStyle(p, now) },
    { title: 'CIRCUIT', width: 9, cell: (p) => p.circuit, style: (p) => CIRCUIT_STYLE[p.circuit] },
    { title: 'LAST OK', width: 9, cell: (p) => (p.lastSuccessAt === null ? '—' : relativeTime(p.lastSuccessAt, now)) },
  ];
  return renderTable(columns, peers, options.color);
}

/**
 * What the peer may read, from the serving side's last `capabilities` answer:
 * `tasks, notes (max 500 rows, 60 req/min)`.
 */
export function mayRead(peer: Pick<Peer, 'capabilities'>): string {
  const c = peer.capabilities;
  if (c === null) return 'unknown (no capabilities answer yet)';
  const resources = c.resources.length === 0 ? 'nothing' : c.resources.map(displayed).join(', ');
  return `${resources} (max ${c.max_rows_per_query} rows, ${c.rate_limit_per_minute} req/min)`;
}

/** `peer show`: every field of the Peer body a person needs, labelled. */
export function renderPeerDetail(peer: Peer, options: { now: number; color: boolean }): string {
  const { now, color } = options;
  const standing = renewalStanding(peer, now);
  const state = paint(color, STATE_STYLE[peer.state] ?? 'dim', peer.state);
  const renewal = standing.expired
    ? paint(color, 'red', 'expired: renewal over mTLS is no longer possible; ask for `grant token <id> --reenroll`')
    : standing.due
      ? paint(color, standing.urgent ? 'red' : 'yellow', `due since ${relativeTime(peer.renewalDueAt, now).replace(/ ago$/, '')} (${shortTime(peer.renewalDueAt)})`)
      : `due ${relativeWhen(peer.renewalDueAt, now)} (${shortTime(peer.renewalDueAt)})`;
  const pairs: Array<[string, string]> = [
    ['state', `${state} · circuit ${paint(color, CIRCUIT_STYLE[peer.circuit] ?? 'dim', peer.circuit)}`],
    ['endpoint', displayed(peer.endpoint)],
    ['local user', displayed(peer.localUserId)],
    ['reads as', `${displayed(peer.subjectUserId)} on ${displayed(peer.capabilities?.server ?? peer.name)} (grant ${displayed(peer.grantId)})`],
    ['may read', mayRead(peer)],
    ['certificate', `serial ${shortSerial(peer.certSerial, 8)} · expires ${expiryCell(peer, now)} (${shortTime(peer.certNotAfter)})`],
    ['renewal', renewal],
    ['CA pin', displayed(peer.caPin)],
    ['last ok', peer.lastSuccessAt === null ? '—' : `${relativeTime(peer.lastSuccessAt, now)} (${shortTime(peer.lastSuccessAt)})`],
    ['last error', peer.lastFailureAt === null ? '—' : `${relativeTime(peer.lastFailureAt, now)}: ${displayed(peer.lastError ?? 'unknown')}`],
  ];
  return `${paint(color, 'bold', `peer ${displayed(peer.name)}`)}\n${keyValues(pairs, { color })}`;
}

/** The lines `peer add` prints once the link is proven (the wizard prints the same, framed). */
export function addedLines(peer: Peer, now: number): { certificate: string; link: string; next: string } {
  const server = displayed(peer.capabilities?.server ?? peer.name);
  return {
    certificate: `Generated a P-256 key · sent the CSR · certificate issued (serial ${shortSerial(peer.certSerial)}, expires ${relativeWhen(peer.certNotAfter, now)})`,
    link: `Checked the link: ${server} lets ${displayed(peer.subjectUserId)} read ${mayRead(peer)}`,
    next: `mosaic federation query list ${peer.capabilities?.resources[0] === undefined ? 'tasks' : displayed(peer.capabilities.resources[0])} --source federated:${peer.name}`,
  };
}

/** `peer add` without the wizard: what was linked, and what to try next. */
export function renderAdded(peer: Peer, options: { now: number; color: boolean; redactedUrl: string }): string {
  const { now, color } = options;
  const lines = addedLines(peer, now);
  const mark = paint(color, 'green', '✔');
  return [
    `${mark} ${lines.certificate}`,
    `${mark} ${lines.link}`,
    `${paint(color, 'bold', `Peer "${displayed(peer.name)}" is active`)} (local user ${displayed(peer.localUserId)}; enrolled through ${options.redactedUrl})`,
    `Try:  ${lines.next}`,
  ].join('\n');
}

/**
 * A canonical pin (`sha256:<64 hex>`) as 16 groups of four upper-case hex digits.
 * The CLI does not load federation-core's `formatPin` (it sits behind zod and x509).
 */
export function pinGroups(pin: string): string[] {
  return (pin.replace(/^sha256:/i, '').toUpperCase().match(/.{4}/g) ?? []).slice(0, 16);
}

/**
 * Two pins side by side for a person: each as two lines of eight groups under a label; on a
 * mismatch the groups that differ are marked below (and red on a TTY).
 */
export function renderPinComparison(rows: ReadonlyArray<{ label: string; pin: string }>, options: { color: boolean }): string[] {
  const width = Math.max(...rows.map((r) => r.label.length)) + 2;
  const groups = rows.map((r) => pinGroups(r.pin));
  const reference = groups[0] ?? [];
  const differs = (i: number) => groups.some((g) => g[i] !== reference[i]);
  const out: string[] = [];
  rows.forEach((row, r) => {
    for (let line = 0; line < 2; line++) {
      const at = (j: number) => line * 8 + j;
      const cells = (groups[r] ?? []).slice(line * 8, line * 8 + 8).map((g, j) => (r > 0 && differs(at(j)) ? paint(options.color, 'red', g) : g));
      out.push(`${(line === 0 ? row.label : '').padEnd(width)}${cells.join(' ')}`);
      // under a compared pin, mark the groups that differ from the first
      const marks = reference.slice(line * 8, line * 8 + 8).map((_, j) => (differs(at(j)) ? '^^^^' : '    '));
      if (r > 0 && marks.some((m) => m !== '    ')) out.push(`${''.padEnd(width)}${marks.join(' ')}`.trimEnd());
    }
  });
  return out;
}

/** What `peer inspect` decodes from the stored certificate. */
export interface InspectedCertificate {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  key: string;
  fingerprint256: string;
  extensions: { grantId: string | null; subjectUserId: string | null; error?: string };
  ca: { subject: string; notAfter: string; pin: string; pinMatchesPeer: boolean; issuedLeaf: boolean };
}

/** `peer inspect` for a person: the certificate, both Mosaic extensions, the pinned CA. */
export function renderInspect(peer: Peer, cert: InspectedCertificate, options: { now: number; color: boolean }): string {
  const { now, color } = options;
  const ok = (yes: boolean, good: string, bad: string) => (yes ? `${paint(color, 'green', '✔')} ${good}` : `${paint(color, 'red', '✖')} ${bad}`);
  const expires = Date.parse(cert.notAfter) <= now ? paint(color, 'red', `expired ${relativeTime(cert.notAfter, now)}`) : `expires ${relativeWhen(cert.notAfter, now)}`;
  const ext = cert.extensions;
  const pairs: Array<[string, string]> = [
    ['subject', displayed(cert.subject)],
    ['issuer', displayed(cert.issuer)],
    ['serial', shortSerial(cert.serial, 64)],
    ['valid', `${shortTime(cert.notBefore)} → ${shortTime(cert.notAfter)} (${expires})`],
    ['key', displayed(cert.key)],
    ['sha-256', displayed(cert.fingerprint256)],
    [
      'grant id',
      ext.grantId === null
        ? paint(color, 'red', `unreadable: ${displayed(ext.error ?? 'missing')}`)
        : `${displayed(ext.grantId)}  ${paint(color, 'dim', '(1.3.6.1.4.1.99999.1)')}  ${ok(ext.grantId === peer.grantId, 'the peer’s grant', `the peer records grant ${displayed(peer.grantId)}`)}`,
    ],
    [
      'subject user',
      ext.subjectUserId === null
        ? paint(color, 'red', 'unreadable')
        : `${displayed(ext.subjectUserId)}  ${paint(color, 'dim', '(1.3.6.1.4.1.99999.2)')}  ${ok(ext.subjectUserId === peer.subjectUserId, 'as recorded', `the peer records ${displayed(peer.subjectUserId)}`)}`,
    ],
    ['CA', `${displayed(cert.ca.subject)} (expires ${relativeWhen(cert.ca.notAfter, now)})`],
    ['CA pin', `${cert.ca.pin}  ${ok(cert.ca.pinMatchesPeer, 'the pinned one', `the peer pinned ${displayed(peer.caPin)}`)}`],
    ['chain', ok(cert.ca.issuedLeaf, 'the certificate is signed by the pinned CA', 'the certificate is NOT signed by the pinned CA')],
  ];
  return `${paint(color, 'bold', `peer ${displayed(peer.name)} — client certificate`)}\n${keyValues(pairs, { color })}`;
}

/** `needs-renewal` for a person: one line, with the dates. */
export function renderNeedsRenewal(peer: Peer, now: number): string {
  const s = renewalStanding(peer, now);
  const name = displayed(peer.name);
  if (s.expired) return `${name}: the certificate expired ${relativeTime(peer.certNotAfter, now)} — renewal over mTLS is no longer possible; ask for \`grant token <id> --reenroll\``;
  if (s.due) return `${name}: renewal is due (since ${shortTime(peer.renewalDueAt)}); the certificate expires ${relativeWhen(peer.certNotAfter, now)} (${shortTime(peer.certNotAfter)})`;
  return `${name}: renewal is not due — due ${relativeWhen(peer.renewalDueAt, now)} (${shortTime(peer.renewalDueAt)}); the certificate expires ${relativeWhen(peer.certNotAfter, now)}`;
}

/** `peer list` with no peers: what to do. */
export const NO_PEERS = `no peers yet: link one with \`mosaic federation peer add\` (the enrollment URL and pin come from \`grant token\` on the serving side)`;

