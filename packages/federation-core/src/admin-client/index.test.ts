import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminApiError, AdminClient, GatewayUnreachableError } from './index.js';

const TOKEN = 'test-admin-token-0123456789';
let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-1', ...headers });
  res.end(JSON.stringify(body));
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('AdminClient', () => {
  it('sends the bearer token, query filters and JSON bodies, and returns the answer', async () => {
    const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
    const baseUrl = await serve((req, res, body) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      json(res, 200, { items: [] });
    });
    const admin = new AdminClient({ baseUrl: `${baseUrl}/ignored/path`, token: TOKEN });
    await admin.listGrants({ status: 'active', peer: 'home' });
    await admin.createToken('6b1f', { ttlSeconds: 600, reenroll: true });
    await admin.explainGrant('6b1f/..', 'tasks');
    expect(seen[0]).toEqual({ method: 'GET', url: '/api/admin/grants?status=active&peer=home', auth: `Bearer ${TOKEN}`, body: '' });
    expect(seen[1]).toMatchObject({ method: 'POST', url: '/api/admin/grants/6b1f/tokens', body: '{"ttlSeconds":600,"reenroll":true}' });
    // ids are one path segment each: no traversal through an id
    expect(seen[2]!.url).toBe('/api/admin/grants/6b1f%2F../explain?resource=tasks');
    expect(() => new AdminClient({ baseUrl }).getGrant('..')).toThrow(/not a valid/);
  });

  it('turns an error envelope into AdminApiError with code, remediation and request id', async () => {
    const baseUrl = await serve((_req, res) =>
      json(res, 400, { error: { code: 'SCOPE_INVALID', message: 'scope is invalid', remediation: 'fix it', details: [{ path: 'resources', message: 'empty' }] } }),
    );
    const err = await new AdminClient({ baseUrl, token: TOKEN }).createGrant({} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminApiError);
    expect(err).toMatchObject({ status: 400, code: 'SCOPE_INVALID', message: 'scope is invalid', remediation: 'fix it', requestId: 'req-1' });
    expect((err as AdminApiError).details).toEqual([{ path: 'resources', message: 'empty' }]);
  });

  it('a 401 without a body still reads as ADMIN_AUTH_REQUIRED with a hint, never echoing the token', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(401);
      res.end();
    });
    const err = (await new AdminClient({ baseUrl, token: TOKEN }).status().catch((e: unknown) => e)) as AdminApiError;
    expect(err.code).toBe('ADMIN_AUTH_REQUIRED');
    expect(err.remediation).toContain('--token-file');
    expect(JSON.stringify({ m: err.message, r: err.remediation })).not.toContain(TOKEN);
  });

  it('reports an unreachable gateway as GATEWAY_UNREACHABLE with what to do', async () => {
    const baseUrl = await serve(() => undefined);
    server!.close();
    await new Promise((r) => setTimeout(r, 20));
    const err = (await new AdminClient({ baseUrl }).health().catch((e: unknown) => e)) as GatewayUnreachableError;
    expect(err).toBeInstanceOf(GatewayUnreachableError);
    expect(err.code).toBe('GATEWAY_UNREACHABLE');
    expect(err.message).toContain('connection refused');
    expect(err.remediation).toContain('mosaic gateway start');
  });

  it('never sends a bearer token in clear text beyond loopback', () => {
    expect(() => new AdminClient({ baseUrl: 'http://gw.example.net:8400', token: TOKEN })).toThrow(/must be reached over https/);
    expect(new AdminClient({ baseUrl: 'http://[::1]:8400' }).baseUrl).toBe('http://[::1]:8400');
    expect(new AdminClient({ baseUrl: 'https://gw.example.net:8400' }).baseUrl).toBe('https://gw.example.net:8400');
  });

  it('does not follow a redirect (a body holding an enrollment URL must not travel elsewhere)', async () => {
    let other = 0;
    const baseUrl = await serve((req, res) => {
      if (req.url === '/elsewhere') {
        other++;
        return json(res, 200, {});
      }
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    });
    await expect(new AdminClient({ baseUrl, token: TOKEN }).previewPeer('https://x/api/federation/v1/enroll/secret')).rejects.toMatchObject({ code: 'GATEWAY_UNREACHABLE' });
    expect(other).toBe(0);
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new AdminClient({ baseUrl: 'ftp://x' })).toThrow(/must be http/);
    expect(() => new AdminClient({ baseUrl: 'not a url' })).toThrow(/not a URL/);
  });

  it('returns metrics as text and a non-JSON answer as a clear error', async () => {
    const baseUrl = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.url === '/metrics' ? 'mosaic_requests_total 1\n' : '<html>');
    });
    const admin = new AdminClient({ baseUrl, token: TOKEN });
    expect(await admin.metrics()).toBe('mosaic_requests_total 1\n');
    await expect(admin.status()).rejects.toMatchObject({ code: 'ADMIN_RESPONSE_INVALID' });
  });

  it('streams audit rows and resumes after a drop with Last-Event-ID, without gaps or repeats', async () => {
    const rows = Array.from({ length: 6 }, (_, i) => ({ id: String(i + 1), verb: 'list' }));
    const lastIds: Array<string | undefined> = [];
    let connections = 0;
    const baseUrl = await serve((req, res) => {
      connections++;
      const last = req.headers['last-event-id'] as string | undefined;
      lastIds.push(last);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 10\n\n');
      const from = last === undefined ? 0 : Number(last);
      // first connection sends three rows then drops; the second sends the rest
      const batch = rows.slice(from, connections === 1 ? 3 : rows.length);
      for (const row of batch) res.write(`id: ${row.id}\ndata: ${JSON.stringify(row)}\n\n`);
      if (connections === 1) setTimeout(() => res.destroy(), 50); // a drop after the rows were delivered
    });
    const controller = new AbortController();
    const got: string[] = [];
    let disconnects = 0;
    for await (const row of new AdminClient({ baseUrl, token: TOKEN }).auditStream({ signal: controller.signal, onDisconnect: () => disconnects++ })) {
      got.push(row.id);
      if (got.length === rows.length) controller.abort();
    }
    expect(got).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(lastIds).toEqual([undefined, '3']);
    expect(disconnects).toBe(1);
  });

  it('stops streaming on a 401 instead of retrying forever', async () => {
    const baseUrl = await serve((_req, res) => json(res, 401, { error: { code: 'ADMIN_AUTH_REQUIRED', message: 'no token' } }));
    const stream = new AdminClient({ baseUrl }).auditStream({ reconnectDelayMs: 5 });
    await expect(stream.next()).rejects.toMatchObject({ status: 401, code: 'ADMIN_AUTH_REQUIRED' });
  });
});
