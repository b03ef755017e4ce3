/**
 * The reference server of `pnpm bench`: a bare Node `https` server in its own process (as the
 * gateway is), with the federation listener's TLS settings (TLS 1.3 only, client certificate
 * required and chained to the gateway's CA, no session tickets, HTTP/1.1), answering every
 * request with the bytes the gateway answered `list tasks` with. What the gateway could reach
 * if its own work (identity, grant, rate limit, scope ∩ RBAC, provider, audit) cost nothing.
 *
 * Reads one JSON line on stdin: `{ certPem, keyPem, clientCaPem, body, contentType }`; prints
 * `{ "port": n }` once listening; exits when stdin closes.
 */
import { constants } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

interface BareConfig {
  certPem: string;
  keyPem: string;
  clientCaPem: string;
  body: string;
  contentType: string;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  input += chunk;
  const nl = input.indexOf('\n');
  if (nl < 0) return;
  const config = JSON.parse(input.slice(0, nl)) as BareConfig;
  input = '';
  const body = Buffer.from(config.body, 'utf8');
  const server = createServer(
    {
      key: config.keyPem,
      cert: config.certPem,
      ca: [config.clientCaPem],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      secureOptions: constants.SSL_OP_NO_TICKET,
      ALPNProtocols: ['http/1.1'],
    },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': config.contentType, 'content-length': body.length });
        res.end(body);
      });
    },
  );
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
});
process.stdin.on('end', () => process.exit(0));
