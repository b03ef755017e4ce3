/**
 * A small Prometheus registry: counters and histograms with labels, rendered in the text
 * exposition format (0.0.4). Gauges are computed at scrape time by the caller.
 */
const BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`)
    .join(',');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

class Counter {
  readonly values = new Map<string, number>();
  inc(labels: Labels, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  /** Mirror a tally kept elsewhere (monotonic by its owner). */
  set(labels: Labels, value: number): void {
    this.values.set(key(labels), value);
  }
}

class Histogram {
  readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { buckets: BUCKETS_MS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS_MS.length; i++) if (value <= BUCKETS_MS[i]!) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }
}

export interface Gauge {
  name: string;
  help: string;
  values: Array<{ labels: Labels; value: number }>;
}

export class Metrics {
  readonly federationRequests = new Counter();
  readonly federationLatency = new Histogram();
  readonly handshakesRefused = new Counter();
  readonly auditUnavailable = new Counter();
  /** Federation requests rate-limited by the local fallback bucket because Redis was unreachable. */
  readonly rateLimitFallbacks = new Counter();
  /** Refusals of clients without a valid identity answered beyond their per-address audit budget (not audited one by one). */
  readonly refusalsUnaudited = new Counter();

  /** Calls of the requesting side to its peers: ok, cached, refused (the peer answered 4xx), failed, circuit_open, revoked. */
  readonly peerRequests = new Counter();

  /** One federation request: verb and outcome (allowed, denied, rate_limited, error). */
  observeFederation(verb: string, outcome: string, latencyMs: number): void {
    this.federationRequests.inc({ verb, outcome });
    this.federationLatency.observe({ verb }, latencyMs);
  }

  /** The exposition text, with the gauges computed by the caller. */
  render(gauges: Gauge[]): string {
    const out: string[] = [];
    const counter = (name: string, help: string, c: Counter) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}{${k}} ${v}`);
    };
    counter('mosaic_federation_requests_total', 'Federation requests by verb and outcome.', this.federationRequests);
    counter('mosaic_federation_handshakes_refused_total', 'TLS connections closed after the handshake, by reason.', this.handshakesRefused);
    counter('mosaic_audit_unavailable_total', 'Federation requests refused with 503 because the audit spool could not be written.', this.auditUnavailable);
    counter(
      'mosaic_federation_refusals_unaudited_total',
      'Requests without a valid client identity refused (401) past their address budget: counted here, not audited one by one.',
      this.refusalsUnaudited,
    );
    counter('mosaic_peer_requests_total', 'Calls of this gateway to its peers, by peer and outcome (cached: served from the 30 s cache; circuit_open: failed fast).', this.peerRequests);
    counter('mosaic_rate_limit_fallbacks_total', 'Federation requests rate-limited per replica (local bucket) because Redis was unreachable.', this.rateLimitFallbacks);
    out.push('# HELP mosaic_federation_request_duration_ms Federation request latency.', '# TYPE mosaic_federation_request_duration_ms histogram');
    for (const [k, s] of this.federationLatency.series) {
      const sep = k === '' ? '' : ',';
      BUCKETS_MS.forEach((b, i) => out.push(`mosaic_federation_request_duration_ms_bucket{${k}${sep}le="${b}"} ${s.buckets[i]}`));
      out.push(`mosaic_federation_request_duration_ms_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`mosaic_federation_request_duration_ms_sum{${k}} ${s.sum}`, `mosaic_federation_request_duration_ms_count{${k}} ${s.count}`);
    }
    for (const g of gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const { labels, value } of g.values) out.push(Object.keys(labels).length ? `${g.name}{${key(labels)}} ${value}` : `${g.name} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }
}
