/**
 * Trace export: with `OTEL_EXPORTER_OTLP_ENDPOINT` a gateway sends its spans as OTLP/HTTP
 * (JSON) to `<endpoint>/v1/traces` — flushed on close — and without it no OpenTelemetry module
 * is even loaded and nothing is sent. The collector is a tiny HTTP server started here.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { generateMasterSecret } from '@mosaic/federation-core';
import { readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { tsNodeArgs } from './audit/test-helpers.js';
import { waitForAuditRows } from './test-support/audit-poll.js';
import { cleanupTestGateways, startTestGateway } from './test-support/gateway.js';

interface Post {
  url: string;
  contentType: string;
  body: string;
}

/** OTLP/JSON as the exporter sends it (only what is checked here). */
interface OtlpJson {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: Array<{ key: string; value: Record<string, unknown> }> }> }>;
  }>;
}

const dirs: string[] = [];
function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-otel-'));
  dirs.push(dir);
  return dir;
}

/** A gateway's environment: its own XDG dirs and master secret, plus `extra`; nothing of this process's OTEL_* settings. */
function gatewayEnv(dir: string, extra: NodeJS.ProcessEnv = {}, base: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of Object.keys(env)) if (k.startsWith('OTEL_') || k === 'DATABASE_URL' || k === 'REDIS_URL' || k.startsWith('MOSAIC_')) delete env[k];
  return { ...env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), MOSAIC_SECRET: generateMasterSecret(), ...extra };
}

describe('trace export over OTLP/HTTP', () => {
  let server: Server;
  let collector: string;
  const posts: Post[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') posts.push({ url: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    collector = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await cleanupTestGateways();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT: spans arrive at /v1/traces as OTLP JSON, flushed on close — trace id, service and gateway name; never the query text', async () => {
    const dir = tempHome();
    const gw = await startTestGateway({ name: 'traced', dataDir: join(dir, 'data'), env: gatewayEnv(dir, { OTEL_EXPORTER_OTLP_ENDPOINT: collector }) });
    expect(gw.gateway.tracing).toMatchObject({ exporting: true, endpoint: `${collector}/v1/traces` });
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${'3'.repeat(16)}-01`;
    const marker = `needle-${randomBytes(6).toString('hex')}`;
    const res = await fetch(`${gw.gateway.adminUrl}/api/admin/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readAdminTokenFile(gw.dataDir)}`, 'content-type': 'application/json', traceparent },
      body: JSON.stringify({ verb: 'search', resource: 'tasks', query: marker, source: 'local', asUser: 'alice' }),
    });
    expect(res.status).toBe(200);
    // a federation request without a client certificate: refused, and still a span in the trace
    const agent = new Agent({ connect: { ca: gw.gateway.ca.caCertPem } });
    const refused = await request(`${gw.gateway.federationUrl.replace('127.0.0.1', 'localhost')}/api/federation/v1/capabilities`, { dispatcher: agent, headers: { traceparent } });
    await refused.body.dump();
    await agent.close();
    expect(refused.statusCode).toBe(401);
    expect(await waitForAuditRows(gw.admin, (r) => r.traceId === traceId, { count: 2 })).toHaveLength(2);

    await gw.stop(); // the batch is sent on close, not 5 s later
    const traces = posts.filter((p) => p.url === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    for (const p of traces) expect(p.contentType).toMatch(/^application\/json/);
    const payloads = traces.map((p) => JSON.parse(p.body) as OtlpJson);
    const resources = payloads.flatMap((p) => p.resourceSpans);
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).filter((s) => s.traceId === traceId);
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /api/federation/v1/capabilities', 'POST /api/admin/query']);
    for (const s of spans) expect(s.parentSpanId).toBe('3'.repeat(16));
    const attrs = Object.fromEntries(resources[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(attrs).toMatchObject({ 'service.name': 'mosaic-gateway', 'mosaic.gateway.name': 'traced' });
    expect(traces.map((p) => p.body).join('\n')).not.toContain(marker);
  });

  it('without it, a gateway loads no OpenTelemetry module and sends nothing; with it, the SDK and exporter are loaded then (a child process each)', async () => {
    const run = async (extra: NodeJS.ProcessEnv) => {
      const dir = tempHome();
      const traceId = randomBytes(16).toString('hex');
      const child = spawn(process.execPath, [...tsNodeArgs(join(import.meta.dirname, 'tracing-child.fixture.ts')), join(dir, 'data'), traceId], {
        env: gatewayEnv(dir, extra, process.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, err).toBe(0);
      return { traceId, ...(JSON.parse(out.trim().split('\n').at(-1)!) as { exporting: boolean; endpoint: string | null; statuses: number[]; otel: string[] }) };
    };

    const before = posts.length;
    const quiet = await run({});
    expect(quiet).toMatchObject({ exporting: false, endpoint: null, statuses: [200, 401], otel: [] });
    expect(posts.length).toBe(before);

    const exporting = await run({ OTEL_EXPORTER_OTLP_ENDPOINT: collector });
    expect(exporting).toMatchObject({ exporting: true, endpoint: `${collector}/v1/traces`, statuses: [200, 401] });
    expect(exporting.otel).toEqual(expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http']));
    expect(posts.slice(before).some((p) => p.url === '/v1/traces' && p.body.includes(exporting.traceId))).toBe(true);
  }, 60_000);
});
