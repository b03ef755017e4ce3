import { useCallback, useEffect, useRef, useState } from 'react';

export interface Poll<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first answer (or error). */
  loading: boolean;
  /** Fetch again now. */
  refresh: () => void;
}

/**
 * Fetch `fetcher` now and every `intervalMs`, keeping the last good data while a refresh runs
 * or fails (no flicker), and re-rendering only when the answer's JSON changed.
 */
export function usePoll<T>(fetcher: () => Promise<T>, intervalMs: number, key: unknown = null): Poll<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const latest = useRef(fetcher);
  latest.current = fetcher;
  const last = useRef<string | undefined>(undefined);
  const tick = useRef<() => void>(() => undefined);

  useEffect(() => {
    let alive = true;
    let inFlight = false;
    last.current = undefined;
    setState({ data: undefined, error: undefined, loading: true });
    const run = () => {
      if (inFlight) return;
      inFlight = true;
      latest
        .current()
        .then((data) => {
          if (!alive) return;
          // Compared here, not inside the updater: React may run an updater later (when the
          // component has other updates queued), by when last.current already holds this answer —
          // a changed list then read as unchanged and was dropped for good (a peer added never showed).
          const json = JSON.stringify(data);
          const unchanged = json === last.current;
          last.current = json;
          setState((s) => (unchanged && s.error === undefined && !s.loading ? s : { data, error: undefined, loading: false }));
        })
        .catch((error: unknown) => {
          if (!alive) return;
          setState((s) => ({ data: s.data, error, loading: false }));
        })
        .finally(() => {
          inFlight = false;
        });
    };
    tick.current = run;
    run();
    const timer = setInterval(run, intervalMs);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [intervalMs, key]);

  const refresh = useCallback(() => tick.current(), []);
  return { ...state, refresh };
}

/** The current time, updated every `everyMs` (for countdowns). */
export function useNow(everyMs = 1000, fixed?: number): number {
  const [now, setNow] = useState(() => fixed ?? Date.now());
  useEffect(() => {
    if (fixed !== undefined) return;
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs, fixed]);
  return now;
}

/**
 * State whose latest value is readable at once through `ref` — for key handlers: a terminal
 * delivers several keys in one chunk (↓↓⏎), handled in one tick before React re-renders.
 */
export function useSyncState<T>(initial: T): [T, (next: T | ((prev: T) => T)) => void, { readonly current: T }] {
  const [value, setValue] = useState(initial);
  const ref = useRef(value);
  const set = useCallback((next: T | ((prev: T) => T)) => {
    ref.current = typeof next === 'function' ? (next as (prev: T) => T)(ref.current) : next;
    setValue(ref.current);
  }, []);
  return [value, set, ref];
}
