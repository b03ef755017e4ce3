/**
 * The audit tail's model, apart from React so the benchmark and tests drive it directly:
 * incoming rows queue in `pending` and move into a 10 000-row ring on `flush()` (the hook
 * flushes at most every 75 ms), each escaped once on the way in; a view asks for the rows that
 * fit, newest last, optionally frozen at a pause point and filtered.
 */
import type { AuditRow } from '@mosaic/federation-core';
import { Ring } from './ring.js';
import { clock, escapeText } from './text.js';

export const TAIL_CAPACITY = 10_000;

/** A row as drawn: its fields escaped once, and the lower-cased text `/` searches. */
export interface TailRow {
  seq: number;
  row: AuditRow;
  time: string;
  peer: string;
  subject: string;
  verb: string;
  resource: string;
  haystack: string;
}

export interface TailFilter {
  grant?: string;
  outcome?: string;
  verb?: string;
  peer?: string;
  text?: string;
}

/**
 * `/` filter syntax: `outcome:denied verb:list grant:6b1f peer:home free text` (any order;
 * words without a key search every field).
 */
export function parseFilter(input: string): TailFilter {
  const filter: TailFilter = {};
  const words: string[] = [];
  for (const word of input.trim().split(/\s+/)) {
    if (word === '') continue;
    const m = /^(grant|outcome|verb|peer):(.*)$/i.exec(word);
    if (m) filter[m[1]!.toLowerCase() as 'grant' | 'outcome' | 'verb' | 'peer'] = m[2]!.toLowerCase();
    else words.push(word.toLowerCase());
  }
  if (words.length > 0) filter.text = words.join(' ');
  return filter;
}

export function isEmptyFilter(f: TailFilter): boolean {
  return f.grant === undefined && f.outcome === undefined && f.verb === undefined && f.peer === undefined && f.text === undefined;
}

export function matches(r: TailRow, f: TailFilter): boolean {
  if (f.grant !== undefined && !(r.row.grantId ?? '').startsWith(f.grant)) return false;
  if (f.outcome !== undefined && !r.row.outcome.startsWith(f.outcome)) return false;
  if (f.verb !== undefined && !r.row.verb.toLowerCase().startsWith(f.verb)) return false;
  if (f.peer !== undefined && !r.peer.toLowerCase().startsWith(f.peer)) return false;
  if (f.text !== undefined && !r.haystack.includes(f.text)) return false;
  return true;
}

export function toTailRow(row: AuditRow, seq: number): TailRow {
  // who acted: an admin row names the admin token even when it also names the grant's peer
  const peer = escapeText(row.adminTokenName !== null ? `admin:${row.adminTokenName}` : (row.peer ?? '—'));
  const subject = escapeText(row.subjectUserId ?? '—');
  const verb = escapeText(row.verb);
  const resource = escapeText(row.resource ?? '—');
  return {
    seq,
    row,
    time: clock(row.at),
    peer,
    subject,
    verb,
    resource,
    haystack: [peer, subject, verb, resource, row.outcome, String(row.statusCode), row.grantId ?? '', row.traceId ?? '', row.requestId].join(' ').toLowerCase(),
  };
}

export class AuditTailModel {
  readonly ring: Ring<TailRow>;
  /** Rows received ever (the `seq` of the next row). */
  total = 0;
  private pending: AuditRow[] = [];

  constructor(capacity = TAIL_CAPACITY) {
    this.ring = new Ring(capacity);
  }

  /** Queue a row (cheap; nothing is drawn until `flush`). */
  push(row: AuditRow): void {
    this.pending.push(row);
    // Never more than a ring's worth waits: an older row would fall out at once anyway.
    // (They still count: `total` is what arrived, so a pause's "N new" stays true.)
    if (this.pending.length > this.ring.capacity * 2) {
      const dropped = this.pending.length - this.ring.capacity;
      this.pending.splice(0, dropped);
      this.total += dropped;
    }
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Move queued rows into the ring; true when anything moved. */
  flush(): boolean {
    if (this.pending.length === 0) return false;
    const rows = this.pending.length > this.ring.capacity ? this.pending.slice(-this.ring.capacity) : this.pending;
    this.total += this.pending.length - rows.length;
    for (const row of rows) this.ring.push(toTailRow(row, this.total++));
    this.pending = [];
    return true;
  }

  /**
   * The rows to draw: the newest `count` rows matching `filter` that are not newer than
   * `untilSeq` (exclusive; the pause point), skipping the newest `skip` of them (scrolled up),
   * oldest first. Walks back from the end and stops as soon as it has enough.
   */
  window(count: number, options: { untilSeq?: number; skip?: number; filter?: TailFilter } = {}): TailRow[] {
    const out: TailRow[] = [];
    const filter = options.filter !== undefined && !isEmptyFilter(options.filter) ? options.filter : undefined;
    const first = this.total - this.ring.size;
    let end = this.ring.size;
    if (options.untilSeq !== undefined) end = Math.max(0, Math.min(end, options.untilSeq - first));
    let skip = options.skip ?? 0;
    for (let i = end - 1; i >= 0 && out.length < count; i--) {
      const r = this.ring.at(i)!;
      if (filter !== undefined && !matches(r, filter)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(r);
    }
    return out.reverse();
  }

  /** How many rows (matching `filter`, up to `untilSeq`) there are, capped at `cap`. */
  countMatching(filter: TailFilter | undefined, untilSeq: number | undefined, cap: number): number {
    if (filter === undefined || isEmptyFilter(filter)) {
      const first = this.total - this.ring.size;
      return untilSeq === undefined ? this.ring.size : Math.max(0, Math.min(this.ring.size, untilSeq - first));
    }
    return this.window(cap, { ...(untilSeq === undefined ? {} : { untilSeq }), filter }).length;
  }
}
