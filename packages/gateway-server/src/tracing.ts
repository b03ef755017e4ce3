/**
 * Tracing: a W3C `traceparent` on every federation call, continued on the serving side, as
 * OpenTelemetry spans.
 *
 * One small interface, two modes:
 * - **ids only** (the default): no OpenTelemetry module is loaded — the SDK costs ~60 ms of
 *   start-up, and with nowhere to send spans it would only make ids. Spans still carry real
 *   W3C ids (random, never all zero), continue a caller's valid trace, and are sampled the way
 *   ParentBased(AlwaysOn) samples: the caller's flag, else sampled.
 * - **exporting**: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
 *   set — or a test's span processor ({@link addSpanProcessorForTests}) — the OpenTelemetry
 *   API and SDK are imported then: a `BasicTracerProvider` of this gateway's own (not
 *   registered globally, so two gateways in one process keep their own resource), sampler
 *   ParentBased(AlwaysOn), the OTLP/HTTP exporter behind a `BatchSpanProcessor`.
 *
 * What a span may carry is decided by its callers: verbs, resource names, grant ids, outcomes,
 * status codes, error codes — never query text, row data, row ids, user ids or credentials.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { Span as OtelSpan, Tracer } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { continueTrace, type TraceParent } from '@mosaic/federation-core';
import { ConfigInvalidError } from './config.js';

/** `service.name` of every span this gateway exports (the gateway's own name is `mosaic.gateway.name`). */
export const TRACING_SERVICE_NAME = 'mosaic-gateway';

/** Attribute values a span accepts; `null`/`undefined` ones are left out. */
export type SpanAttributes = Record<string, string | number | boolean | null | undefined>;

/** How a span ended: `unset` (the default; a server's 4xx is not its error), `ok`, or `error`. */
export type SpanStatus = 'unset' | 'ok' | 'error';

/** One span of this gateway. */
export interface TraceSpan {
  /** 32 lowercase hex: the trace this span belongs to (what audit rows store). */
  readonly traceId: string;
  /** 16 lowercase hex. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** The W3C `traceparent` header naming this span as the parent of a call it makes. */
  traceparent(): string;
  /** Add attributes (see the module comment for what may never be one). */
  setAttributes(attributes: SpanAttributes): void;
  /** End the span (once; later calls do nothing). `message` describes an error status. */
  end(status?: SpanStatus, attributes?: SpanAttributes, message?: string): void;
}

/** Makes this gateway's spans. */
export interface Tracing {
  /** True when spans leave the process (an OTLP exporter, or a test's processor). */
  readonly exporting: boolean;
  /** Where spans are exported (the OTLP/HTTP traces URL), or `null`. */
  readonly endpoint: string | null;
  /** A SERVER span: the caller's trace continued when its `traceparent` was valid, else a new trace. */
  startServerSpan(name: string, parent: TraceParent | null, attributes?: SpanAttributes): TraceSpan;
  /** A CLIENT span, child of `parent` (a span of this gateway): send its {@link TraceSpan.traceparent}. */
  startClientSpan(name: string, parent: TraceSpan, attributes?: SpanAttributes): TraceSpan;
  /** Export what is buffered and stop, within `timeoutMs` (default 2 s); never throws. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TracingOptions {
  /** The gateway's name: resource attribute `mosaic.gateway.name`. */
  name: string;
  version: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** Span processors added by tests: every gateway started while one is registered exports to it. */
const testProcessors = new Set<SpanProcessor>();

/**
 * Tests only: gateways started from now on (in this process) also hand their spans to
 * `processor` (e.g. a `SimpleSpanProcessor` over an `InMemorySpanExporter`), which makes them
 * use the SDK. Returns the function that removes it.
 */
export function addSpanProcessorForTests(processor: SpanProcessor): () => void {
  testProcessors.add(processor);
  return () => testProcessors.delete(processor);
}

/**
 * The OTLP/HTTP traces URL the environment asks for, or `null`: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the OTLP exporter specification);
 * `OTEL_SDK_DISABLED=true` turns it off.
 */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  let url: string;
  let name: string;
  if (signal) {
    url = signal;
    name = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  } else if (base) {
    url = `${base}${base.endsWith('/') ? '' : '/'}v1/traces`;
    name = 'OTEL_EXPORTER_OTLP_ENDPOINT';
  } else {
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigInvalidError(`${name} must be an http(s) URL (e.g. http://localhost:4318), not "${url.slice(0, 200).replace(/\/\/[^/?#]*@/, '//…@')}"; unset it to export no traces`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigInvalidError(`${name} must be an http:// or https:// URL (OTLP over HTTP), not ${parsed.protocol}`);
  }
  return parsed.href;
}

/** The W3C header for a span context. */
function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** A span that is ids only: nothing is recorded. */
class IdSpan implements TraceSpan {
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly sampled: boolean,
  ) {}

  traceparent(): string {
    return formatTraceparent(this.traceId, this.spanId, this.sampled);
  }

  setAttributes(): void {}

  end(): void {}
}

/** Spans as ids only: no OpenTelemetry module loaded. */
export function idOnlyTracing(): Tracing {
  const span = (parent: TraceParent | null) => {
    // ParentBased(AlwaysOn): the caller's sampled flag, else sampled
    const t = continueTrace(parent, { sampled: true });
    return new IdSpan(t.traceId, t.spanId, t.sampled);
  };
  return {
    exporting: false,
    endpoint: null,
    startServerSpan: (_name, parent) => span(parent),
    startClientSpan: (_name, parent) =>
      span({ version: '00', traceId: parent.traceId, parentId: parent.spanId, flags: parent.sampled ? '01' : '00', sampled: parent.sampled }),
    shutdown: () => Promise.resolve(),
  };
}

function clean(attributes: SpanAttributes | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attributes ?? {})) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

type Api = typeof OtelApi;

/** A span of the OpenTelemetry SDK behind our interface. */
class SdkSpan implements TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  private ended = false;

  constructor(
    readonly span: OtelSpan,
    private readonly api: Api,
  ) {
    const c = span.spanContext();
    this.traceId = c.traceId;
    this.spanId = c.spanId;
    this.sampled = (c.traceFlags & 0x01) !== 0; // W3C: the sampled bit
  }

  traceparent(): string {
    return formatTraceparent(this.traceId, this.spanId, this.sampled);
  }

  setAttributes(attributes: SpanAttributes): void {
    if (!this.ended) this.span.setAttributes(clean(attributes));
  }

  end(status: SpanStatus = 'unset', attributes?: SpanAttributes, message?: string): void {
    if (this.ended) return;
    this.span.setAttributes(clean(attributes));
    if (status === 'error') this.span.setStatus({ code: this.api.SpanStatusCode.ERROR, ...(message !== undefined ? { message } : {}) });
    else if (status === 'ok') this.span.setStatus({ code: this.api.SpanStatusCode.OK });
    this.ended = true;
    this.span.end();
  }
}

/**
 * The OTLP URL as it may be logged: no `user:pass@`, no query string or fragment (a collector's
 * credentials ride there); scheme, host, port and path stay.
 */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return '(not a URL)';
  }
}

/**
 * This gateway's tracing: ids only, unless an OTLP endpoint is configured (or a test added a
 * processor) — then the OpenTelemetry SDK, imported here and only here.
 */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  const endpoint = otlpTracesUrl(options.env);
  const logged = endpoint === null ? null : loggableUrl(endpoint);
  // a message may quote the URL (the SDK's, an error's): never with its credentials
  const scrub = (message: string) => (endpoint === null || logged === null ? message : message.split(endpoint).join(logged));
  const extra = [...testProcessors];
  if (endpoint === null && extra.length === 0) return idOnlyTracing();

  const [api, sdk, resources] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/resources')]);
  const processors: SpanProcessor[] = [];
  if (endpoint !== null) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    // The SDK reports export failures through its (global) diagnostic logger: to our log, once
    // per failed batch, never on stdout.
    const log = options.logger;
    api.diag.setLogger(
      {
        error: (message: string) => log.warn({ otel: scrub(message) }, 'trace export failed'),
        warn: (message: string) => log.warn({ otel: scrub(message) }, 'tracing'),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: api.DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    processors.push(new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint })));
  }
  processors.push(...extra);
  const provider = new sdk.BasicTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({ 'service.name': TRACING_SERVICE_NAME, 'service.version': options.version, 'mosaic.gateway.name': options.name }),
    ),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    spanProcessors: processors,
  });
  const tracer: Tracer = provider.getTracer('@mosaic/gateway-server', options.version);
  if (logged !== null) options.logger.info({ endpoint: logged }, 'exporting traces (OTLP/HTTP)');

  return {
    exporting: true,
    endpoint,
    startServerSpan(name, parent, attributes) {
      const context =
        parent === null
          ? api.ROOT_CONTEXT
          : api.trace.setSpanContext(api.ROOT_CONTEXT, {
              traceId: parent.traceId,
              spanId: parent.parentId,
              traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
              isRemote: true,
            });
      return new SdkSpan(tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes: clean(attributes) }, context), api);
    },
    startClientSpan(name, parent, attributes) {
      const context =
        parent instanceof SdkSpan
          ? api.trace.setSpan(api.ROOT_CONTEXT, parent.span)
          : api.trace.setSpanContext(api.ROOT_CONTEXT, {
              traceId: parent.traceId,
              spanId: parent.spanId,
              traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
            });
      return new SdkSpan(tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes: clean(attributes) }, context), api);
    },
    async shutdown(timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs);
        timer.unref();
      });
      try {
        const r = await Promise.race([provider.shutdown().then(() => 'done' as const), late]);
        if (r === 'late') options.logger.warn({ endpoint: logged, timeoutMs }, 'traces not all exported before shutdown');
      } catch (err) {
        options.logger.warn({ endpoint: logged, err: scrub(err instanceof Error ? err.message : String(err)) }, 'tracing shutdown failed');
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
