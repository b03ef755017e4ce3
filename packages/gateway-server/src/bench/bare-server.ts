/**
 * The reference server of `pnpm bench`: a bare Node `https` server in its own process (as the
 * gateway is), with the federation listener's TLS settings (TLS 1.3 only, client certificate
 * required and chained to the gateway's CA, no session tickets, HTTP/1.1), answering every
 * request with the bytes the gateway answered `list tasks` with. What the gateway could reach
 * if its own work (identity, grant, rate limit, scope ∩ RBAC, provider, audit) cost nothing.
 *
 * With `floor`, the **design's floor** instead: what any server must do per request to answer
 * `list tasks` live and audited the way the gateway promises — read the rows from the store
 * (the gateway's own `gateway.db`, a read-only connection, the gateway's query, rows as
 * arrays) and write one audit row durably before answering (its own SQLite file, WAL,
 * `synchronous=NORMAL`, the rows of one event-loop turn in one transaction) — and nothing
 * else: no identity, grant, rate limit, scope, hash chain, shipping, tracing or framework.
 *
 * Reads one JSON line on stdin: `{ certPem, keyPem, clientCaPem, body, contentType, floor? }`;
 * prints `{ "port": n }` once listening; exits when stdin closes.
 */
import { constants, randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadNodeSqlite } from '../storage/sqlite.js';

interface BareConfig {
  certPem: string;
  keyPem: string;
  clientCaPem: string;
  body: string;
  contentType: string;
  /** The design's floor: the store to read (`gateway.db`) and a directory for the audit file. */
  floor?: { dbFile: string; auditDir: string; ownerUserId: string };
}

/** One live read and one durable, group-committed audit write per request (see the module comment). */
function floorHandler(floor: NonNullable<BareConfig['floor']>): (done: (body: Buffer) => void) => void {
  const { DatabaseSync } = loadNodeSqlite();
  const store = new DatabaseSync(floor.dbFile, { readOnly: true, timeout: 5_000 });
  const list = store.prepare('select "id", "title", "body", "owner_user_id", "team_id", "created_at", "updated_at" from "tasks" where (owner_user_id = ?) order by "id" limit ?');
  list.setReturnArrays(true);
  const audit = new DatabaseSync(join(floor.auditDir, 'floor-audit.db'));
  audit.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL)');
  const insert = audit.prepare('INSERT INTO rows (id, body) VALUES (?, ?)');
  /** This turn's audit rows, each with the answer that waits for its commit. */
  let batch: Array<{ id: string; row: string; answer: () => void }> = [];
  const flush = () => {
    const rows = batch;
    batch = [];
    audit.exec('BEGIN IMMEDIATE');
    for (const r of rows) insert.run(r.id, r.row);
    audit.exec('COMMIT');
    for (const r of rows) r.answer();
  };
  return (done) => {
    const rows = list.all(floor.ownerUserId, 51) as unknown as unknown[][];
    const items = rows.slice(0, 50).map((v) => ({ id: v[0], title: v[1], body: v[2], ownerUserId: v[3], teamId: v[4], createdAt: v[5], updatedAt: v[6] }));
    const body = Buffer.from(JSON.stringify({ items, nextCursor: null }), 'utf8');
    const id = randomUUID();
    if (batch.length === 0) setImmediate(flush);
    const row = JSON.stringify({ id, at: new Date().toISOString(), verb: 'list', resource: 'tasks', rowsOut: items.length, bytesOut: body.length });
    batch.push({ id, row, answer: () => done(body) });
  };
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
  const floor = config.floor === undefined ? null : floorHandler(config.floor);
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
        const send = (b: Buffer) => {
          res.writeHead(200, { 'content-type': config.contentType, 'content-length': b.length });
          res.end(b);
        };
        if (floor === null) send(body);
        else floor(send);
      });
    },
  );
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
});
process.stdin.on('end', () => process.exit(0));
