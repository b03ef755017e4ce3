// Acceptance: an external client — no mosaic code on its side, only `openssl` and `curl` as an
// integrator would use them — against a real `mosaic gateway start` process (work), whose
// admin uses the `mosaic` CLI. Covers the certificate and TLS-layer rows of M2, M3, M6, M7
// (docs/acceptance.md).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '@mosaic/federation-core';
import {
  acceptanceHome,
  auditRows,
  createGrant,
  curl,
  enrollWithOpenssl,
  fedCurl,
  fetchCa,
  issueToken,
  mosaicExtensions,
  openssl,
  openWorkCa,
  otherCa,
  postEnroll,
  seed,
  serialOf,
  signWithOpenssl,
  startGateway,
  until,
  withStore,
  type CurlClient,
  type Gateway,
} from '../test-support/acceptance.js';
import { WORK_SEED } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-ext-');
let work: Gateway;
const SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100 };
/**
 * curl's exit codes for a TLS connection the server ends right after the handshake, before
 * any HTTP answer: 35 (the handshake failed), 56 (receive failed: reset) or 52 (empty reply:
 * the close arrived before curl's request was read) — which one is a race on the wire.
 */
const REFUSED = [35, 52, 56];

beforeAll(async () => {
  work = await startGateway(home, 'work');
  seed(work, WORK_SEED);
}, 60_000);

afterAll(async () => {
  await work?.stop();
  home.cleanup();
});

/** A grant for `user` and an identity enrolled for it with openssl + curl. */
function enrolled(name: string, user = 'alice', scope: unknown = SCOPE): { grant: Grant; client: CurlClient } {
  const grant = createGrant(work, { user, peer: name, scope });
  const token = issueToken(work, grant.id);
  return { grant, client: enrollWithOpenssl(work, token.enrollmentUrl, join(home.dir, name)) };
}

/** `openssl s_client` speaking HTTP/1.1 by hand over mTLS; what the server sent back. */
function sClient(client: { cert: string; key: string; ca: string }, request: string): string {
  const port = new URL(work.federationUrl).port;
  const r = spawnSync(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-tls1_3', '-CAfile', client.ca, '-verify_return_error', '-cert', client.cert, '-key', client.key, '-quiet'],
    { input: request, encoding: 'utf8', timeout: 15_000 },
  );
  return r.stdout;
}
const httpGet = (path: string) => `GET /api/federation/v1${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
const httpPost = (path: string, body: string) =>
  `POST /api/federation/v1${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

/** The value of a Mosaic extension as openssl's DER parser shows it: critical flag and the raw extnValue bytes. */
function mosaicExtension(certFile: string, oid: string): { critical: boolean; der: Buffer } | undefined {
  const lines = openssl(['asn1parse', '-in', certFile]).split('\n');
  const at = lines.findIndex((l) => l.includes(`:${oid}`));
  if (at < 0) return undefined;
  const next = lines.slice(at + 1, at + 3);
  const critical = next.some((l) => /BOOLEAN\s+:(255|TRUE)/i.test(l));
  const octets = next.find((l) => l.includes('OCTET STRING'));
  const hex = /\[HEX DUMP\]:([0-9A-F]+)/i.exec(octets ?? '')?.[1];
  return hex === undefined ? undefined : { critical, der: Buffer.from(hex, 'hex') };
}

/** A DER UTF8String (tag 0x0C, short or long form length), strictly: nothing after it. */
function utf8String(der: Buffer): string {
  expect(der[0]).toBe(0x0c);
  let length = der[1]!;
  let offset = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = der.subarray(2, 2 + n).reduce((acc, b) => acc * 256 + b, 0);
    offset = 2 + n;
  }
  expect(der.length).toBe(offset + length);
  return der.subarray(offset).toString('utf8');
}

describe('external client: openssl + curl, no Mosaic code', () => {
  it('external client: a key and CSR made by openssl, enrolled by curl; curl --cert/--key and openssl s_client read capabilities and list', () => {
    const grant = createGrant(work, { user: 'alice', peer: 'curl-client', scope: SCOPE });
    const token = issueToken(work, grant.id);
    const dir = join(home.dir, 'curl-client');
    // the CA pin of `grant token`, recomputed from GET /ca the kubeadm way
    const ca = fetchCa(work, dir);
    const spki = spawnSync('sh', ['-c', `openssl x509 -in "${ca}" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`], { encoding: 'utf8' }).stdout;
    expect(`sha256:${spki.split(' ')[0]}`).toBe(token.caPin);

    const client = enrollWithOpenssl(work, token.enrollmentUrl, dir, '/CN=admin/O=anything-i-like');
    // the CA chose the subject itself, and capped nothing more than asked
    expect(openssl(['x509', '-in', client.cert, '-noout', '-subject']).trim()).toBe('subject=CN = curl-client');
    expect(openssl(['verify', '-CAfile', client.ca, '-purpose', 'sslclient', client.cert]).trim()).toBe(`${client.cert}: OK`);

    const caps = fedCurl(work, client, 'GET', '/capabilities');
    expect(caps.status).toBe(200);
    expect(caps.body).toMatchObject({ server: 'work', resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100, rate_limit_per_minute: 60 });
    expect(caps.headers['x-request-id']).toMatch(/\S/);
    const list = fedCurl(work, client, 'POST', '/list/tasks', {});
    expect(list.status).toBe(200);
    const body = list.body as { items: Array<{ id: string }>; nextCursor: string | null; _source: string };
    expect(body._source).toBe('work');
    expect(body.items.map((i) => i.id).sort()).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);

    const sCaps = sClient(client, httpGet('/capabilities'));
    expect(sCaps).toMatch(/^HTTP\/1\.1 200 /);
    expect(sCaps).toContain('"supported_verbs"');
    const sList = sClient(client, httpPost('/list/notes', '{"limit":1}'));
    expect(sList).toMatch(/^HTTP\/1\.1 200 /);
    const json = JSON.parse(sList.slice(sList.indexOf('\r\n\r\n') + 4)) as { items: Array<{ id: string }>; nextCursor: string | null };
    expect(json.items).toHaveLength(1);
    expect(json.nextCursor).not.toBeNull();
  });

  it('M2.2 enrollment signs an openssl CSR: the certificate carries both Mosaic extensions (non-critical) and EKU clientAuth, issued by the CA of GET /ca', () => {
    const { grant, client } = enrolled('m2-2');
    const text = openssl(['x509', '-in', client.cert, '-noout', '-text']);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.99999\.1:\s*\n/);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.99999\.2:\s*\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:.*\n\s+TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toContain('Issuer: CN = Mosaic Federation CA (work)');
    for (const oid of ['1.3.6.1.4.1.99999.1', '1.3.6.1.4.1.99999.2']) expect(mosaicExtension(client.cert, oid)?.critical).toBe(false);
    // the serving side recorded this very certificate for the grant, now active
    const shown = work.json<Grant>(['federation', 'grant', 'show', grant.id]);
    expect(shown.status).toBe('active');
    expect(shown.certSerial!.replace(/^0+/, '').toLowerCase()).toBe(serialOf(client.cert));
  });

  it("M2.4 the subject-user extension holds the grant's subject user id, the grant-id extension the grant id (DER UTF8Strings, parsed strictly)", () => {
    const { grant, client } = enrolled('m2-4', 'bob', { resources: ['tasks'] });
    expect(utf8String(mosaicExtension(client.cert, '1.3.6.1.4.1.99999.2')!.der)).toBe(grant.subjectUserId);
    expect(grant.subjectUserId).toBe('bob');
    expect(utf8String(mosaicExtension(client.cert, '1.3.6.1.4.1.99999.1')!.der)).toBe(grant.id);
    // and the gateway reads it so: bob's rows, none of alice's
    const list = fedCurl(work, client, 'POST', '/list/tasks', {});
    expect((list.body as { items: Array<{ id: string }> }).items.map((i) => i.id).sort()).toEqual(['b-p1', 't1-1']);
  });

  it('M2.3 an enrollment token is single use: a second POST of a CSR with curl is 410 TOKEN_USED and issues nothing', () => {
    const grant = createGrant(work, { user: 'alice', peer: 'm2-3', scope: SCOPE });
    const token = issueToken(work, grant.id);
    const dir = join(home.dir, 'm2-3');
    enrollWithOpenssl(work, token.enrollmentUrl, dir);
    const serial = work.json<Grant>(['federation', 'grant', 'show', grant.id]).certSerial;
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'second.key')]);
    const csr = openssl(['req', '-new', '-key', join(dir, 'second.key'), '-subj', '/CN=second']);
    const again = postEnroll(token.enrollmentUrl, csr, join(dir, 'ca.pem'));
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ error: { code: 'TOKEN_USED', requestId: expect.any(String) } });
    expect(again.text).not.toContain(token.token);
    expect(work.json<Grant>(['federation', 'grant', 'show', grant.id]).certSerial).toBe(serial);
  });

  it('M3.5 a certificate signed by another CA, with the right extensions for a live grant, is refused at the TLS layer — curl gets no HTTP answer (exit 35/52/56): no route runs, nothing is audited', async () => {
    const { grant } = enrolled('m3-5');
    const impostorCa = otherCa(join(home.dir, 'm3-5-other'), 'Mosaic Federation CA (work)');
    const impostor = { ...signWithOpenssl(join(home.dir, 'm3-5-other'), 'impostor', impostorCa, mosaicExtensions(grant.id, 'alice'), { subject: '/CN=m3-5' }), ca: join(home.dir, 'm3-5', 'ca.pem') };
    const metric = () => {
      const text = curl(['-H', `authorization: Bearer ${readFileSync(join(work.dataDir, 'admin-token'), 'utf8').trim()}`, `${work.adminUrl}/metrics`]).stdout;
      return Number(/^mosaic_federation_handshakes_refused_total\{reason="untrusted"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const rowsOfGrant = () => auditRows(work, '--grant', grant.id).length;
    const rowsBefore = rowsOfGrant();
    const refusedBefore = metric();
    for (const [method, path, body] of [
      ['GET', '/capabilities', undefined],
      ['POST', '/list/tasks', {}],
      ['GET', '/ca', undefined], // even a public route: a presented certificate must be ours
    ] as const) {
      const r = fedCurl(work, impostor, method, path, body);
      expect(REFUSED, `${method} ${path}: curl exit ${r.curlExit} ${r.text}`).toContain(r.curlExit);
    }
    expect(sClient(impostor, httpGet('/capabilities'))).not.toMatch(/HTTP\/1\.1/);
    expect(metric() - refusedBefore).toBeGreaterThanOrEqual(4);
    // no handler ran: no audit row for the grant it names (rows ship within a second or so)
    await new Promise((r) => setTimeout(r, 1_000));
    expect(rowsOfGrant()).toBe(rowsBefore);
  });

  it('M3.6 malformed Mosaic extensions on a certificate of work’s own CA → 401 IDENTITY_INVALID (missing, wrong tag, trailing bytes, non-UUID grant id)', () => {
    // The CA never issues such certificates: they are made with work's own CA key (opened with
    // work's master secret, as a replica opens it), so only the identity check can refuse them.
    const { grant } = enrolled('m3-6');
    const ca = openWorkCa(work, join(home.dir, 'm3-6-forge'));
    const base = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
    const uuidHex = Buffer.from(grant.id, 'utf8').toString('hex');
    const variants: Array<[string, string[]]> = [
      ['no grant-id extension', [...base, '1.3.6.1.4.1.99999.2=ASN1:UTF8String:alice']],
      ['no subject extension', [...base, `1.3.6.1.4.1.99999.1=ASN1:UTF8String:${grant.id}`]],
      ['the grant id as an IA5String (wrong tag)', [...base, `1.3.6.1.4.1.99999.1=ASN1:IA5String:${grant.id}`, '1.3.6.1.4.1.99999.2=ASN1:UTF8String:alice']],
      ['bytes after the UTF8String', [...base, `1.3.6.1.4.1.99999.1=DER:0C24${uuidHex}00`, '1.3.6.1.4.1.99999.2=ASN1:UTF8String:alice']],
      ['a grant id that is no UUID', [...base, '1.3.6.1.4.1.99999.1=ASN1:UTF8String:grant-of-alice', '1.3.6.1.4.1.99999.2=ASN1:UTF8String:alice']],
    ];
    variants.forEach(([what, extensions], i) => {
      const forged = { ...signWithOpenssl(join(home.dir, 'm3-6-forge'), `v${i}`, ca, extensions, { subject: '/CN=m3-6' }), ca: ca.caCert };
      const r = fedCurl(work, forged, 'GET', '/capabilities');
      expect(r.status, what).toBe(401);
      expect(r.body, what).toMatchObject({ error: { code: 'IDENTITY_INVALID', requestId: expect.any(String) } });
      expect(Object.keys(r.body as object), what).toEqual(['error']);
    });
    // the same CA key with well-formed extensions passes this check (and then meets the grant's: that serial was never issued for it)
    const wellFormed = { ...signWithOpenssl(join(home.dir, 'm3-6-forge'), 'ok', ca, mosaicExtensions(grant.id, 'alice'), { subject: '/CN=m3-6' }), ca: ca.caCert };
    const r = fedCurl(work, wellFormed, 'GET', '/capabilities');
    expect(r.status).toBe(403);
  });

  it('M3.6 a valid certificate whose grant is revoked in the store (behind this process, as another replica would) → 403 GRANT_REVOKED on the next request', async () => {
    const { grant, client } = enrolled('m3-6-db');
    expect(fedCurl(work, client, 'GET', '/capabilities').status).toBe(200);
    withStore(work, (db) => db.prepare("UPDATE grants SET status = 'revoked', revoked_at = ?, revoke_reason = 'another replica' WHERE id = ?").run(new Date().toISOString(), grant.id));
    // the serial is not on the revoked list, so the handshake passes; the grant check refuses (its cache lives 1 s)
    const refused = await until(
      () => {
        const r = fedCurl(work, client, 'GET', '/capabilities');
        return r.status === 403 ? r : undefined;
      },
      'a 403 for the revoked grant',
      5_000,
      100,
    );
    expect(refused.body).toMatchObject({ error: { code: 'GRANT_REVOKED', requestId: expect.any(String) } });
    expect(fedCurl(work, client, 'POST', '/list/tasks', {}).status).toBe(403);
  });

  it('M6.3 the CRL endpoint serves the current list, signed by the CA, with a revoked certificate present', () => {
    const { grant, client } = enrolled('m6-3');
    const serial = serialOf(client.cert);
    expect(work.cli(['federation', 'grant', 'revoke', grant.id, '--yes', '--reason', 'acceptance M6.3']).code).toBe(0);
    const crl = join(home.dir, 'm6-3', 'crl.der');
    const got = curl(['-o', crl, '-w', '%{http_code} %{content_type}', '--cacert', client.ca, `${work.url}/api/federation/v1/crl`]);
    expect(got.stdout).toBe('200 application/pkix-crl');
    const text = openssl(['crl', '-inform', 'DER', '-in', crl, '-noout', '-text']);
    const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ''));
    expect(listed).toContain(serial);
    expect(text).toContain('Issuer: CN = Mosaic Federation CA (work)');
    const verified = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', crl, '-CAfile', client.ca, '-noout'], { encoding: 'utf8' });
    expect(verified.status).toBe(0);
    expect(verified.stderr + verified.stdout).toMatch(/verify OK/);
  });

  it("M6.4 a revoked grant's certificate, still time-valid, is refused at the handshake: curl gets no HTTP answer (exit 35/52/56), neither does openssl s_client", () => {
    const { grant, client } = enrolled('m6-4');
    expect(fedCurl(work, client, 'GET', '/capabilities').status).toBe(200);
    expect(work.cli(['federation', 'grant', 'revoke', grant.id.slice(0, 8), '--yes']).code).toBe(0);
    expect(spawnSync('openssl', ['x509', '-in', client.cert, '-noout', '-checkend', '0']).status).toBe(0); // not expired
    for (const [method, path] of [
      ['GET', '/capabilities'],
      ['POST', '/list/tasks'],
    ] as const) {
      const r = fedCurl(work, client, method, path, method === 'POST' ? {} : undefined);
      expect(REFUSED, `curl exit ${r.curlExit}`).toContain(r.curlExit);
    }
    expect(sClient(client, httpGet('/capabilities'))).not.toMatch(/HTTP\/1\.1/);
  });

  it("M7.6 a revoked grant's certificate is refused on every route, public ones included, while the same subject's other grant keeps working", () => {
    const x = enrolled('m7-6-x');
    const y = enrolled('m7-6-y');
    expect(work.cli(['federation', 'grant', 'revoke', x.grant.id, '--yes']).code).toBe(0);
    for (const [method, path] of [
      ['GET', '/capabilities'],
      ['POST', '/list/tasks'],
      ['POST', '/get/tasks/a-p1'],
      ['POST', '/search/tasks'],
      ['GET', '/ca'],
      ['GET', '/crl'],
    ] as const) {
      const r = fedCurl(work, x.client, method, path, method === 'POST' ? { query: 'ship' } : undefined);
      expect(REFUSED, `${method} ${path} with the revoked certificate: curl exit ${r.curlExit}`).toContain(r.curlExit);
    }
    // the other grant of the same subject is untouched
    expect(fedCurl(work, y.client, 'GET', '/capabilities').status).toBe(200);
    expect(fedCurl(work, y.client, 'POST', '/get/tasks/a-p1', {}).status).toBe(200);
  });
});
