import { useCallback, useEffect, useRef, useState } from 'react';
import type { AdminApi } from '../lib/api.js';
import { errorText } from '../lib/api.js';
import { AuditTailModel } from '../lib/tail.js';

export interface AuditTail {
  model: AuditTailModel;
  /** Changes whenever rows were flushed into the model (use as a render key). */
  version: number;
  connected: boolean;
  error: string | null;
  /** The pause point (`seq` of the first row not shown), or null while following. */
  pausedAt: number | null;
  /** Rows that arrived since the pause. */
  newSincePause: number;
  pause: () => void;
  resume: () => void;
  toggle: () => void;
}

export interface AuditTailOptions {
  /** Flush queued rows into the view at most this often (default 75 ms). */
  flushMs?: number;
  /** Rows fetched from the trail before the live stream starts (default 200). */
  backfill?: number;
  capacity?: number;
}

/**
 * The live audit tail: the last rows from `audit`, then the SSE stream resumed from the newest
 * one (the client reconnects with `Last-Event-ID` by itself). Rows are batched: one render per
 * flush, however many arrived, so a thousand events a second cost ~13 renders.
 */
export function useAuditTail(api: AdminApi, options: AuditTailOptions = {}): AuditTail {
  const flushMs = options.flushMs ?? 75;
  const modelRef = useRef<AuditTailModel | null>(null);
  if (modelRef.current === null) modelRef.current = new AuditTailModel(options.capacity);
  const model = modelRef.current;
  const [version, setVersion] = useState(0);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pausedAt, setPausedAt] = useState<number | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    let alive = true;
    void (async () => {
      let lastEventId: string | undefined;
      try {
        const { items } = await api.audit({ limit: options.backfill ?? 200 });
        // newest first on the wire; the tail reads oldest first
        const rows = [...items].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
        for (const row of rows) model.push(row);
        lastEventId = rows.at(-1)?.id;
      } catch {
        // the stream below reports the problem (and retries)
      }
      try {
        for await (const row of api.auditStream({
          signal: abort.signal,
          ...(lastEventId === undefined ? {} : { lastEventId }),
          onConnect: () => {
            if (!alive) return;
            setConnected(true);
            setError(null);
          },
          onDisconnect: (err) => {
            if (!alive) return;
            setConnected(false);
            setError(errorText(err));
          },
        })) {
          model.push(row);
        }
      } catch (err) {
        if (alive) {
          setConnected(false);
          setError(errorText(err));
        }
      }
    })();
    const timer = setInterval(() => {
      if (model.flush()) setVersion((v) => v + 1);
    }, flushMs);
    return () => {
      alive = false;
      abort.abort();
      clearInterval(timer);
    };
  }, [api, model, flushMs, options.backfill]);

  const pause = useCallback(() => setPausedAt((p) => p ?? model.total), [model]);
  const resume = useCallback(() => setPausedAt(null), []);
  const toggle = useCallback(() => setPausedAt((p) => (p === null ? model.total : null)), [model]);
  return { model, version, connected, error, pausedAt, newSincePause: pausedAt === null ? 0 : model.total - pausedAt, pause, resume, toggle };
}
