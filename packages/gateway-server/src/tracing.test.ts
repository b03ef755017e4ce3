/**
 * The tracing layer alone: a caller's valid traceparent is continued (its trace id, a new span
 * id, its sampled flag), anything malformed starts a new trace, a CLIENT span is its parent's
 * child — the same, ids only (the default) and through the OpenTelemetry SDK (an exporter).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { parseTraceparent } from '@mosaic/federation-core';
import { pino } from 'pino';
import { addSpanProcessorForTests, createTracing, idOnlyTracing, otlpTracesUrl, TRACING_SERVICE_NAME, type Tracing } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;
const silent = pino({ level: 'silent' });

/** What a caller may send that is not a valid version-00 traceparent (SECURITY.md case 37). */
const MALFORMED: Array<[string, unknown]> = [
  ['absent', undefined],
  ['empty', ''],
  ['not one', 'zq37-not-a-traceparent'],
  ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
  ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
  ['upper case', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
  ['trailing data', `00-${TRACE}-${PARENT}-01-extra`],
  ['version ff', `ff-${TRACE}-${PARENT}-01`],
  ['repeated header', [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`]],
];

const modes: Array<[string, () => Promise<Tracing>]> = [
  ['ids only', () => Promise.resolve(idOnlyTracing())],
  [
    'OpenTelemetry SDK',
    async () => {
      const remove = addSpanProcessorForTests(new SimpleSpanProcessor(new InMemorySpanExporter()));
      try {
        return await createTracing({ name: 'unit', version: '0.0.0-test', env: {}, logger: silent });
      } finally {
        remove();
      }
    },
  ],
];

describe.each(modes)('tracing (%s)', (mode, make) => {
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await make();
    expect(tracing.exporting).toBe(mode !== 'ids only');
  });
  afterAll(async () => tracing.shutdown());

  it("a server span continues the caller's trace: its trace id and sampled flag, a new span id", () => {
    for (const flags of ['01', '00']) {
      const span = tracing.startServerSpan('GET /x', parseTraceparent(`00-${TRACE}-${PARENT}-${flags}`));
      expect(span.traceId).toBe(TRACE);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.spanId).not.toBe(PARENT);
      expect(span.traceparent()).toBe(`00-${TRACE}-${span.spanId}-${flags}`);
      span.end();
    }
  });

  it.each(MALFORMED)('a malformed traceparent (%s) starts a new, sampled trace', (_what, header) => {
    const span = tracing.startServerSpan('GET /x', parseTraceparent(header));
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.traceId).not.toBe(TRACE);
    expect(span.traceId).not.toMatch(/^0+$/);
    expect(span.spanId).not.toMatch(/^0+$/);
    expect(span.traceparent()).toMatch(TRACEPARENT);
    expect(span.traceparent().endsWith('-01')).toBe(true);
    span.end();
  });

  it("a client span is its parent's child: same trace, own span id; its traceparent is what a peer gets", () => {
    const server = tracing.startServerSpan('POST /api/admin/query', null);
    const a = tracing.startClientSpan('POST /a', server);
    const b = tracing.startClientSpan('POST /b', server);
    for (const c of [a, b]) {
      expect(c.traceId).toBe(server.traceId);
      expect(c.spanId).not.toBe(server.spanId);
      expect(parseTraceparent(c.traceparent())).toEqual({ version: '00', traceId: server.traceId, parentId: c.spanId, flags: '01', sampled: true });
    }
    expect(a.spanId).not.toBe(b.spanId);
    for (const s of [a, b, server]) s.end();
    // two new traces never share an id
    expect(tracing.startServerSpan('x', null).traceId).not.toBe(tracing.startServerSpan('x', null).traceId);
  });

});

describe('tracing through the SDK: what a span records', () => {
  const exporter = new InMemorySpanExporter();
  const spans = () => exporter.getFinishedSpans();
  let tracing: Tracing;
  beforeAll(async () => {
    const remove = addSpanProcessorForTests(new SimpleSpanProcessor(exporter));
    try {
      tracing = await createTracing({ name: 'unit', version: '0.0.0-test', env: {}, logger: silent });
    } finally {
      remove();
    }
  });
  afterAll(async () => tracing.shutdown());

  it('the SDK records kind, parent, attributes (null ones left out) and status; a span ends once', () => {
    const before = spans().length;
    const server = tracing.startServerSpan('GET /api/federation/v1/capabilities', parseTraceparent(`00-${TRACE}-${PARENT}-01`), { 'http.route': '/api/federation/v1/capabilities', 'mosaic.grant_id': null });
    const client = tracing.startClientSpan('POST /api/federation/v1/list/:resource', server, { 'mosaic.peer': 'work' });
    server.setAttributes({ 'mosaic.outcome': 'allowed' });
    client.end('error', { 'error.type': 'PEER_UNREACHABLE' }, 'PEER_UNREACHABLE');
    client.end('ok', { late: true });
    server.end('unset', { 'http.response.status_code': 200 });
    const [c, s] = spans().slice(before);
    expect(s!.kind).toBe(SpanKind.SERVER);
    expect(s!.parentSpanContext).toMatchObject({ traceId: TRACE, spanId: PARENT, isRemote: true });
    expect(s!.attributes).toEqual({ 'http.route': '/api/federation/v1/capabilities', 'mosaic.outcome': 'allowed', 'http.response.status_code': 200 });
    expect(s!.status.code).toBe(SpanStatusCode.UNSET);
    expect(c!.kind).toBe(SpanKind.CLIENT);
    expect(c!.parentSpanContext?.spanId).toBe(server.spanId);
    expect(c!.attributes).toEqual({ 'mosaic.peer': 'work', 'error.type': 'PEER_UNREACHABLE' });
    expect(c!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'PEER_UNREACHABLE' });
    expect(s!.resource.attributes).toMatchObject({ 'service.name': TRACING_SERVICE_NAME, 'mosaic.gateway.name': 'unit', 'service.version': '0.0.0-test' });
    expect(spans().length - before).toBe(2);
  });

  it('a caller that says "not sampled" is followed: real ids, flag 00, nothing recorded', () => {
    const before = spans().length;
    const span = tracing.startServerSpan('GET /x', parseTraceparent(`00-${TRACE}-${PARENT}-00`));
    const child = tracing.startClientSpan('POST /y', span);
    expect([span.sampled, child.sampled]).toEqual([false, false]);
    expect(child.traceparent()).toBe(`00-${TRACE}-${child.spanId}-00`);
    child.end();
    span.end();
    expect(spans().length).toBe(before);
  });
});

describe('otlpTracesUrl: the exporter only when the environment asks for it', () => {
  it.each<[string, NodeJS.ProcessEnv, string | null]>([
    ['nothing set', {}, null],
    ['empty', { OTEL_EXPORTER_OTLP_ENDPOINT: '' }, null],
    ['the base endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'http://collector:4318/v1/traces'],
    ['a base with a path and a slash', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.net/otlp/' }, 'https://otel.example.net/otlp/v1/traces'],
    ['the traces endpoint, as is', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }, 'http://b:4318/custom'],
    ['the SDK disabled', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }, null],
  ])('%s', (_what, env, expected) => {
    expect(otlpTracesUrl(env)).toBe(expected);
  });

  it.each(['collector:4318:x', 'not a url', 'grpc://collector:4317'])('refuses %j with CONFIG_INVALID', (value) => {
    expect(() => otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: value })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('OTEL_EXPORTER_OTLP_ENDPOINT') }));
  });
});

describe('the OTLP URL in the log', () => {
  it('is logged without user:pass@ or query string — when export starts and when shutdown is late', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const tracing = await createTracing({
      name: 'unit',
      version: '0.0.0-test',
      // a port nothing listens on, so the shutdown flush cannot finish
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://u:s3cret@collector.invalid:4318/otel/v1/traces?api_key=k3y' },
      logger,
    });
    // exported to as given: only the log is scrubbed
    expect(tracing.endpoint).toBe('https://u:s3cret@collector.invalid:4318/otel/v1/traces?api_key=k3y');
    tracing.startServerSpan('x', null).end();
    await tracing.shutdown(50);
    const log = lines.join('');
    expect(log).toContain('exporting traces (OTLP/HTTP)');
    expect(log).toContain('https://collector.invalid:4318/otel/v1/traces');
    expect(log).not.toContain('s3cret');
    expect(log).not.toContain('u:');
    expect(log).not.toContain('k3y');
  });

  it('a URL that does not parse is refused without echoing its credentials', () => {
    expect(() => otlpTracesUrl({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://u:s3cret@collector:99999' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.not.stringContaining('s3cret') }));
  });
});

describe('addSpanProcessorForTests', () => {
  let exporter: InMemorySpanExporter;
  beforeEach(() => {
    exporter = new InMemorySpanExporter();
  });

  it('applies to tracings created while it is registered, and no longer once removed', async () => {
    const remove = addSpanProcessorForTests(new SimpleSpanProcessor(exporter));
    const withHook = await createTracing({ name: 'a', version: '0', env: {}, logger: silent });
    remove();
    const without = await createTracing({ name: 'b', version: '0', env: {}, logger: silent });
    expect([withHook.exporting, without.exporting]).toEqual([true, false]);
    withHook.startServerSpan('x', null).end();
    without.startServerSpan('y', null).end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['x']);
    await withHook.shutdown();
  });
});
