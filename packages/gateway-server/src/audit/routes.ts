/**
 * The audit routes of the admin API (auth is the admin app's hook):
 * - `GET /api/admin/audit` — filtered rows, newest first;
 * - `GET /api/admin/audit/stream` — the live tail as Server-Sent Events, resumable with
 *   `Last-Event-ID` (by the store's arrival order, so no gap and no repeat);
 * - `GET /api/admin/audit/verify` — every spool's hash chain walked, archived rows first;
 * - `POST /api/admin/audit/archive` — move rows older than N days (default 90) to the
 *   archive table, or count them (`dryRun`); recorded as an admin mutation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { auditArchiveRequestSchema, auditQuerySchema, parseOrThrow, type AuditRow } from '@mosaic/federation-core';
import { actorOf } from '../admin/app.js';
import { auditActor, type AuditWriter } from '../services/audit.js';
import type { AuditFilter, Storage } from '../storage/index.js';
import { archiveAudit, type ArchiveOutcome } from './archive.js';
import { ChainVerifier, toWireRow, type ChainBreak } from './chain.js';
import type { AuditTail } from './shipper.js';
import type { AuditSpool } from './spool.js';

export interface AuditRouteDeps {
  storage: Pick<Storage, 'audit' | 'grants' | 'transaction'>;
  /**
   * Records admin mutations (`POST /api/admin/audit/archive` is one). Without it the archive
   * route is not registered: it must never act unaudited.
   */
  writer?: Pick<AuditWriter, 'record'> | undefined;
  /** This gateway's spool (for `verify`: its newest shipped row must be in the store). */
  spool?: Pick<AuditSpool, 'id' | 'lastRow' | 'unshipped'> | undefined;
  /** Wake-ups when rows were shipped (the stream also polls the store, for other writers). */
  tail?: AuditTail | undefined;
  /** Heartbeat comment interval (ms, default 15 000). */
  heartbeatMs?: number | undefined;
  /** How often a stream reads the store without a wake-up (ms, default 1 000). */
  pollMs?: number | undefined;
  /** The `retry:` the stream advises (ms, default 2 000). */
  retryMs?: number | undefined;
}

/** Handle on the routes' open streams. */
export interface AuditRoutes {
  /** Streams open now. */
  openStreams(): number;
  /** End every open stream (also done in the app's `preClose`). */
  closeStreams(): void;
}

/** One spool's verdict in `GET /api/admin/audit/verify`. */
export interface SpoolVerdict {
  spool: string | null;
  rows: number;
  /** False for rows written without a spool (no chain to walk). */
  chained: boolean;
  firstBreak?: ChainBreak;
}

const DURATION_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PAGE = 500;

/** `since` as an absolute time: ISO as is, a duration (`90s|15m|12h|30d`) back from `now`. */
export function resolveSince(since: string, now = Date.now()): string {
  const m = /^(\d{1,9})([smhd])$/.exec(since);
  if (m === null) return since;
  return new Date(now - Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS]).toISOString();
}

/**
 * Walk every row of the store — archived rows, then live ones, in one arrival order — and
 * verify each spool's chain from its first row (whose `prevHash` must be null, so even a
 * deleted first row shows). Archiving moves rows without changing them or their order, so
 * it never reads as a break.
 */
export async function verifyStoredChains(deps: Pick<AuditRouteDeps, 'storage' | 'spool'>): Promise<{ ok: boolean; spools: SpoolVerdict[] }> {
  const { storage, spool } = deps;
  const verifiers = new Map<string | null, ChainVerifier>();
  let afterSeq = 0;
  for (;;) {
    const rows = await storage.audit.walk({ afterSeq, limit: 10_000 });
    for (const row of rows) {
      let v = verifiers.get(row.spool);
      if (v === undefined) {
        v = new ChainVerifier({ expectFirstPrevHash: null });
        verifiers.set(row.spool, v);
      }
      if (row.spool !== null) v.push(row);
      else v.push({ ...row, prevHash: v.tail ?? null, hash: null }); // counted, not chained
    }
    if (rows.length < 10_000) break;
    afterSeq = rows.at(-1)!.seq;
  }
  const spools: SpoolVerdict[] = [];
  for (const [id, v] of verifiers) {
    const r = v.result();
    const verdict: SpoolVerdict = { spool: id, rows: r.rows, chained: id !== null };
    if (id !== null && !r.ok) verdict.firstBreak = r.firstBreak;
    spools.push(verdict);
  }
  // The newest row of our own spool, once shipped, must be in the store: deleting the last
  // rows of a chain leaves no later row to notice it.
  const last = spool?.lastRow();
  if (spool !== undefined && last !== null && last !== undefined && spool.unshipped(1).length === 0) {
    let verdict = spools.find((s) => s.spool === spool.id);
    if (verdict === undefined) {
      verdict = { spool: spool.id, rows: 0, chained: true };
      spools.push(verdict);
    }
    if (verdict.firstBreak === undefined && (await storage.audit.get(last.id)) === null) verdict.firstBreak = { id: last.id, at: last.at, reason: 'missing' };
  }
  spools.sort((a, b) => String(a.spool).localeCompare(String(b.spool)));
  return { ok: spools.every((s) => s.firstBreak === undefined), spools };
}

/** A `Last-Event-ID` we may use: a row id's characters only. */
function lastEventId(req: FastifyRequest): string | null {
  const h = req.headers['last-event-id'];
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return null;
  const t = v.trim();
  return /^[0-9A-Za-z_.:-]{1,128}$/.test(t) ? t : null;
}

/** Register the audit routes (see the module comment). */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): AuditRoutes {
  const { storage, tail } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const pollMs = deps.pollMs ?? 1_000;
  const retryMs = deps.retryMs ?? 2_000;
  const streams = new Set<() => void>();

  app.get('/api/admin/audit', async (req): Promise<{ items: AuditRow[] }> => {
    const q = parseOrThrow(auditQuerySchema, req.query ?? {}, { what: 'audit query' });
    const filter: AuditFilter & { limit?: number } = {
      since: q.since === undefined ? undefined : resolveSince(q.since),
      grantId: q.grant === undefined ? undefined : q.grant.length === 36 ? q.grant : (await storage.grants.resolve(q.grant)).id,
      peer: q.peer,
      verb: q.verb,
      outcome: q.outcome,
      ...(q.limit === undefined ? {} : { limit: q.limit }),
    };
    const rows = await storage.audit.query(filter);
    return { items: rows.map(toWireRow) };
  });

  app.get('/api/admin/audit/verify', async () => verifyStoredChains(deps));

  const writer = deps.writer;
  if (writer !== undefined) {
    app.post('/api/admin/audit/archive', async (req): Promise<ArchiveOutcome> => {
      const body = parseOrThrow(auditArchiveRequestSchema, req.body ?? {}, { what: 'archive request' });
      if (body.dryRun === true) return archiveAudit(storage, { olderThanDays: body.olderThanDays, dryRun: true });
      // The move and its audit row commit together (as every admin mutation does).
      return storage.transaction(async (tx) => {
        const outcome = await archiveAudit(tx, { olderThanDays: body.olderThanDays });
        await writer.record(
          {
            ...auditActor(actorOf(req)),
            verb: 'admin.audit.archive',
            outcome: 'allowed',
            statusCode: 200,
            detail: JSON.stringify({ olderThanDays: body.olderThanDays ?? null, ...outcome }),
          },
          tx,
        );
        return outcome;
      });
    });
  }

  app.get('/api/admin/audit/stream', async (req: FastifyRequest, reply: FastifyReply) => {
    const resumeFrom = lastEventId(req);
    reply.hijack();
    const res: ServerResponse = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': req.id,
    });
    res.flushHeaders();
    let closed = false;
    let draining = false;
    let again = false;
    let cursor: string | null = null;

    const write = async (text: string): Promise<void> => {
      if (closed) return;
      if (!res.write(text)) await new Promise<void>((r) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          r();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    };

    const drain = async (): Promise<void> => {
      if (draining) {
        again = true;
        return;
      }
      draining = true;
      try {
        do {
          again = false;
          for (;;) {
            if (closed) return;
            const rows = await storage.audit.after(cursor, PAGE);
            if (rows === null) {
              // The resume point is gone (archived): continue from the live tail.
              cursor = await storage.audit.latestId();
              await write(': resume point not found; continuing from the live tail\n\n');
              break;
            }
            for (const row of rows) {
              if (closed) return;
              await write(`id: ${row.id}\ndata: ${JSON.stringify(toWireRow(row))}\n\n`);
              cursor = row.id;
            }
            if (rows.length < PAGE) break;
          }
        } while (again && !closed);
      } catch (err) {
        req.log.warn({ reqId: req.id, err: (err as Error).message }, 'audit stream read failed; retrying');
      } finally {
        draining = false;
      }
    };

    const wake = (): void => void drain();
    const heartbeat = setInterval(() => void write(': heartbeat\n\n'), heartbeatMs);
    const poll = setInterval(wake, pollMs);
    heartbeat.unref();
    poll.unref();
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearInterval(poll);
      tail?.off('rows', wake);
      streams.delete(close);
      if (!res.writableEnded) res.end();
    };
    streams.add(close);
    res.on('close', close);
    tail?.on('rows', wake);

    try {
      await write(`retry: ${retryMs}\n\n`);
      cursor = resumeFrom ?? (await storage.audit.latestId());
      await drain();
    } catch (err) {
      req.log.warn({ reqId: req.id, err: (err as Error).message }, 'audit stream failed to start');
      close();
    }
  });

  const closeStreams = (): void => {
    for (const close of [...streams]) close();
  };
  app.addHook('preClose', (done) => {
    closeStreams();
    done();
  });
  return { openStreams: () => streams.size, closeStreams };
}
