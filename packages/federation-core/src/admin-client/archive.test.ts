import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from './index.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('AdminClient.auditArchive', () => {
  it('POSTs /api/admin/audit/archive with the body (an empty object by default) and returns the answer', async () => {
    const seen: Array<{ method?: string; url?: string; body: string }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body.includes('dryRun') ? { wouldMove: 3, cutoff: '2030-01-01T00:00:00.000Z' } : { moved: 3, cutoff: '2030-01-01T00:00:00.000Z' }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const admin = new AdminClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
    expect(await admin.auditArchive()).toEqual({ moved: 3, cutoff: '2030-01-01T00:00:00.000Z' });
    expect(await admin.auditArchive({ olderThanDays: 30, dryRun: true })).toEqual({ wouldMove: 3, cutoff: '2030-01-01T00:00:00.000Z' });
    expect(seen).toEqual([
      { method: 'POST', url: '/api/admin/audit/archive', body: '{}' },
      { method: 'POST', url: '/api/admin/audit/archive', body: '{"olderThanDays":30,"dryRun":true}' },
    ]);
  });
});
