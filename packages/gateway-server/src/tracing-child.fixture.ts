/**
 * Test helper run as a child process (`node --import tsx --conditions=mosaic-source`): starts a
 * gateway on `<dataDir>` with this process's environment, makes one admin query and one
 * federation request in trace `<traceId>` (each a span), closes the gateway (which flushes its
 * spans), then prints one JSON line: whether it exported, where to, the two status codes, and
 * which OpenTelemetry packages this process loaded (they are CommonJS: `require.cache` has them).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { startGateway } from './gateway.js';

const [dataDir, traceId] = process.argv.slice(2) as [string, string];
const gw = await startGateway({ version: '0.0.0-test', logger: pino({ level: 'silent' }), name: 'traced', dataDir, federationPort: 0, adminPort: 0 });
const traceparent = `00-${traceId}-${'2'.repeat(16)}-01`;
const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
const query = await fetch(`${gw.adminUrl}/api/admin/query`, {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent },
  body: JSON.stringify({ verb: 'list', resource: 'tasks', source: 'local', asUser: 'alice' }),
});
// no client certificate: refused (401), still a span and an audit row
const agent = new Agent({ connect: { ca: gw.ca.caCertPem } });
const federation = await request(`${gw.federationUrl.replace('127.0.0.1', 'localhost')}/api/federation/v1/capabilities`, { dispatcher: agent, headers: { traceparent } });
await federation.body.dump();
await agent.close();
const { exporting, endpoint } = gw.tracing;
await gw.close();

const packages = new Set<string>();
for (const file of Object.keys(createRequire(import.meta.url).cache)) {
  const m = /[\\/]node_modules[\\/](@opentelemetry[\\/][^\\/]+)[\\/]/.exec(file);
  if (m) packages.add(m[1]!.replace('\\', '/'));
}
process.stdout.write(`${JSON.stringify({ exporting, endpoint, statuses: [query.status, federation.statusCode], otel: [...packages].sort() })}\n`);
