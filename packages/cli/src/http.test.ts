import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@mosaic/federation-core/admin-client';
import { nodeFetch } from './http.js';

let server: Server;
let base = '';
const seen: Array<{ method: string; url: string; headers: Record<string, unknown>; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/redirect') return void res.writeHead(302, { location: '/elsewhere' }).end();
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2_000);
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('a');
        setTimeout(() => res.end('b'), 20);
        return;
      }
      if (req.url?.startsWith('/api/admin/grants/missing')) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
        return void res.end(JSON.stringify({ error: { code: 'GRANT_NOT_FOUND', message: 'no grant' } }));
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-2' });
      res.end(JSON.stringify({ items: [], echo: body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the CLI transport (fetch over node:http)', () => {
  it('carries method, headers and body, and answers as fetch does', async () => {
    const res = await nodeFetch(`${base}/x?y=1`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, body: '{"a":"é"}' });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Request-Id')).toBe('req-2');
    expect(await res.json()).toEqual({ items: [], echo: '{"a":"é"}' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/x?y=1', headers: { authorization: 'Bearer t', 'content-length': '10' } });
  });

  it('streams a body chunk by chunk', async () => {
    const res = await nodeFetch(`${base}/stream`);
    const chunks: string[] = [];
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(new TextDecoder().decode(c));
    expect(chunks.join('')).toBe('ab');
  });

  it('fails like fetch: connection refused in cause.code, a redirect refused, a time limit as TimeoutError', async () => {
    await expect(nodeFetch('http://127.0.0.1:1/')).rejects.toMatchObject({ name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
    await expect(nodeFetch(`${base}/redirect`, { redirect: 'error' })).rejects.toMatchObject({ message: 'fetch failed', cause: { code: 'UNEXPECTED_REDIRECT' } });
    await expect(nodeFetch(`${base}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('is what AdminClient needs: answers, API errors with their code, and "connection refused"', async () => {
    const admin = new AdminClient({ baseUrl: base, token: 't', fetch: nodeFetch });
    expect(await admin.listGrants({ status: 'active' })).toMatchObject({ items: [] });
    expect(seen.at(-1)?.url).toBe('/api/admin/grants?status=active');
    await expect(admin.getGrant('missing')).rejects.toMatchObject({ code: 'GRANT_NOT_FOUND', status: 404, requestId: 'req-1' });
    const down = new AdminClient({ baseUrl: 'http://127.0.0.1:1', fetch: nodeFetch });
    await expect(down.status()).rejects.toMatchObject({ code: 'GATEWAY_UNREACHABLE', message: 'cannot reach the gateway at http://127.0.0.1:1: connection refused (is it running?)' });
  });
});
