/**
 * Two real gateways: who the caller is comes only from a certificate work's CA issued for a
 * live grant, checked at the handshake and again on every request — the TLS-layer and
 * certificate-content cases of SECURITY.md (1–11, 36, 37). Certificates the CA would never
 * issue are made with work's own CA key (`h.workCa()`), so only the check under test can
 * refuse them.
 */
import { X509Certificate } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  MOSAIC_GRANT_ID_OID,
  MOSAIC_SUBJECT_USER_ID_OID,
  normaliseSerialHex,
  parseCrl,
  type AuditRow,
  type RootCa,
} from '@mosaic/federation-core';
import {
  clientProfileExtensions,
  makeClientCert,
  makeCustomCert,
  makeServerCert,
  makeTestCa,
  mosaicRawExtensions,
  rawExtension,
  utf8StringDer,
} from '@mosaic/federation-core/test-support/pki';
import { FEDERATION_PREFIX } from '../federation/listener.js';
import { describeEachEngine } from '../test-support/engines.js';
import { startFederation, type FederationHarness, type PeerLink, type RawAnswer } from '../test-support/federation.js';

const SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100, rate_limit_per_minute: 6000 };

/** Anything of the seed that must never be in a refusal. */
const LEAK = /a-p1|a-p2|t1-1|t2-1|b-p1|n-a1|Ship the release|alice personal|bob only|hunter2|ship password/;

/** Every mTLS verb route, as the no-certificate case walks them. */
const VERB_ROUTES: Array<['GET' | 'POST', string, unknown]> = [
  ['GET', '/capabilities', undefined],
  ['POST', '/list/tasks', {}],
  ['POST', '/get/tasks/a-p1', {}],
  ['POST', '/search/tasks', { query: 'ship' }],
  ['POST', '/renew', { csrPem: 'placeholder' }],
];

type Cred = { certPem: string; keyPem: string };
type Extension = ReturnType<typeof rawExtension>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A refusal and nothing else: the status, the code, an error envelope only, no seeded row. */
function expectRefusal(r: Pick<RawAnswer, 'status' | 'body' | 'text'> | null, status: number, code: string): void {
  expect(r, 'an answer').not.toBeNull();
  expect(r!.status).toBe(status);
  expect(r!.body.error?.code).toBe(code);
  expect(Object.keys(r!.body)).toEqual(['error']);
  expect(r!.text).not.toMatch(LEAK);
}

/**
 * One HTTP/1.1 keep-alive connection on a raw TLS socket: requests one at a time, and a
 * `closed` promise that tells when the server ended the socket (undici would reconnect
 * silently, which hides exactly what these tests look at).
 */
class RawConnection {
  readonly closed: Promise<void>;
  private buffer = Buffer.alloc(0);
  private waiting: ((answer: RawAnswer | null) => void) | null = null;
  private ended = false;

  constructor(readonly socket: TLSSocket) {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        this.settle(null);
        resolve();
      });
    });
  }

  /** One request; the answer, or null when the socket closed first. `headerLines` go out verbatim. */
  send(method: 'GET' | 'POST', path: string, options: { body?: unknown; headerLines?: string[] } = {}): Promise<RawAnswer | null> {
    if (this.ended || this.socket.destroyed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
      const body = options.body === undefined ? '' : JSON.stringify(options.body);
      const head = [`${method} ${FEDERATION_PREFIX}${path} HTTP/1.1`, 'host: localhost', ...(options.headerLines ?? [])];
      if (body !== '') head.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`);
      this.socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? '0');
    if (this.buffer.length < end + 4 + length) return;
    const text = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    let body: RawAnswer['body'];
    try {
      body = JSON.parse(text) as RawAnswer['body'];
    } catch {
      body = {};
    }
    this.settle({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body, text });
  }

  private settle(answer: RawAnswer | null): void {
    const w = this.waiting;
    this.waiting = null;
    w?.(answer);
  }
}

describeEachEngine('federation between two gateways: identity at the handshake and in the certificate', (engine) => {
  let h: FederationHarness;
  let alice: PeerLink;
  let aliceCreds: Cred;
  let ca: RootCa;
  const connections: RawConnection[] = [];
  let workLocation: { dataDir?: string; databaseUrl?: string } = {};

  beforeAll(async () => {
    h = await startFederation({
      location: async (name) => {
        const l = await engine.location();
        if (name === 'work') workLocation = l;
        return l;
      },
    });
    alice = await h.link({ subjectUserId: 'alice', scope: SCOPE });
    aliceCreds = await alice.credentials();
    ca = await h.workCa();
  });
  afterAll(async () => h?.close());
  // registered last, so it runs first: our raw sockets go before the gateways stop
  afterAll(() => {
    for (const c of connections.splice(0)) c.socket.destroy();
  });

  const work = () => h.work.gateway;
  /** Handshakes work refused so far, by reason. */
  const refused = () => ({ ...work().federation.refused });
  /** Federation requests that reached a route (any outcome). */
  const handled = () => [...work().metrics.federationRequests.values.values()].reduce((a, b) => a + b, 0);

  /** A raw TLS connection to work's federation port (resolves once the client side is secure). */
  function open(cred?: Cred, options: { session?: Buffer } = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port: Number(new URL(h.workUrl).port),
        servername: 'localhost',
        ca: work().ca.caCertPem,
        ALPNProtocols: ['http/1.1'],
        ...(cred ? { cert: cred.certPem, key: cred.keyPem } : {}),
        ...(options.session ? { session: options.session } : {}),
      });
      socket.once('secureConnect', () => {
        const c = new RawConnection(socket);
        connections.push(c);
        resolve(c);
      });
      socket.once('error', reject);
    });
  }

  /**
   * The certificate gets nowhere: a new connection with it is closed right after the
   * handshake, on a verb and on a public route, and no route ran. Returns the refusals counted.
   */
  async function expectClosedAfterHandshake(cred: Cred, routes: Array<['GET' | 'POST', string]> = [['POST', '/list/tasks'], ['GET', '/ca']]) {
    const before = { ...refused(), handled: handled() };
    for (const [method, path] of routes) {
      const err = (await h.call(h.agent(cred), method, path, method === 'POST' ? { body: {} } : {}).then(
        (r) => ({ code: `answered ${r.status}` }),
        (e: unknown) => e,
      )) as { code?: string };
      expect(err.code, `${method} ${path}`).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    }
    expect(handled(), 'no route ran').toBe(before.handled);
    const after = refused();
    return { untrusted: after.untrusted - before.untrusted, revoked: after.revoked - before.revoked };
  }

  /** A pending grant for alice on work (no token, no certificate yet). */
  const pendingGrant = (peerName: string) => h.work.admin.createGrant({ subjectUserId: 'alice', peerName, scope: SCOPE } as never);

  /**
   * Record `certPem` in work's store as issued for the grant and make it the grant's current
   * certificate — what the CA would have done had it issued it. The serial binding then holds,
   * so only the check under test can refuse the certificate.
   */
  async function adopt(grantId: string, certPem: string): Promise<void> {
    const x = new X509Certificate(certPem);
    const storage = work().storage;
    const { serial } = await storage.certs.record({ serial: x.serialNumber, grantId, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) });
    await storage.grants.activate(grantId, serial);
  }

  /** A certificate signed by work's CA with exactly these extensions after the profile's own (`profile` may edit those). */
  async function customCert(extensions: Extension[], profile: (exts: Extension[]) => Extension[] = (e) => e): Promise<Cred> {
    const keys = await generateKeyPair();
    const { certPem, keyPem } = await makeCustomCert(ca, { keys, extensions: [...profile(await clientProfileExtensions(ca, keys.publicKey)), ...extensions] });
    return { certPem, keyPem };
  }

  /** A fresh CSR and the PEM of its key. */
  async function freshCsr(): Promise<{ csrPem: string; keyPem: string }> {
    const keys = await generateKeyPair({ extractable: true });
    return { csrPem: await createCsr({ keys }), keyPem: await exportPrivateKeyPem(keys.privateKey) };
  }

  /** The audit rows of a grant carrying these request ids (rows reach the store within ~1 s). */
  async function auditRowsFor(grantId: string, requestIds: readonly string[]): Promise<{ found: Map<string, AuditRow>; all: AuditRow[] }> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const { items } = await h.work.admin.audit({ grant: grantId, limit: 1000 });
      const found = new Map(items.filter((r) => requestIds.includes(r.requestId)).map((r) => [r.requestId, r] as const));
      if (found.size === requestIds.length || Date.now() > deadline) return { found, all: items };
      await sleep(100);
    }
  }

  // ── TLS layer ─────────────────────────────────────────────────────────────────────────

  it('without a client certificate every verb route is 401 CLIENT_CERT_REQUIRED, while ca, crl and enroll answer (case 1)', async () => {
    const anonymous = h.agent();
    for (const [method, path, body] of VERB_ROUTES) {
      const r = await h.call(anonymous, method, path, body === undefined ? {} : { body });
      expectRefusal(r, 401, 'CLIENT_CERT_REQUIRED');
    }
    const caAnswer = await h.call(anonymous, 'GET', '/ca');
    expect(caAnswer.status).toBe(200);
    expect(caAnswer.text.trim()).toBe(work().ca.caCertPem.trim());
    const crl = await h.call(anonymous, 'GET', '/crl');
    expect(crl.status).toBe(200);
    expect(crl.headers['content-type']).toMatch(/pkix-crl/);
    // enrollment is the one write a caller without a certificate may make
    const grant = await pendingGrant('anonymous-enroll');
    const { token } = await h.work.admin.createToken(grant.id);
    const enrolled = await h.call(anonymous, 'POST', `/enroll/${token}`, { body: { csrPem: (await freshCsr()).csrPem } });
    expect(enrolled.status).toBe(200);
    expect(enrolled.body.certPem).toEqual(expect.stringContaining('BEGIN CERTIFICATE'));
  });

  it.each([
    ["a CA that has the same name as work's", async (grantId: string) => {
      const name = new X509Certificate(ca.certPem).subject.replace(/^CN=/, '');
      return makeClientCert(await makeTestCa({ commonName: name }), { grantId, subjectUserId: 'alice' });
    }],
    ['no CA at all (self-signed, same subject and extensions)', async (grantId: string) => {
      const keys = await generateKeyPair();
      return makeCustomCert(ca, { keys, selfSigned: true, extensions: [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaicRawExtensions(grantId, 'alice')] });
    }],
    ["work's CA name over a signature by another key", async (grantId: string) => {
      const keys = await generateKeyPair();
      const forger = await generateKeyPair();
      return makeCustomCert(ca, { keys, signWith: forger.privateKey, extensions: [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaicRawExtensions(grantId, 'alice')] });
    }],
  ])('a certificate from %s with perfect Mosaic extensions for a live grant is closed after the handshake; no route runs (case 2)', async (_what, make) => {
    const impostor = await make(alice.grant.id);
    const counted = await expectClosedAfterHandshake(impostor);
    expect(counted.untrusted).toBe(2);
    // the real peer is untouched
    expect((await h.call(h.agent(aliceCreds), 'GET', '/capabilities')).status).toBe(200);
  });

  it("an expired certificate from work's own CA for a live grant is closed after the handshake (case 3)", async () => {
    // issued just after the root's own start, for one minute: long expired by now
    const expired = await makeClientCert(ca, { grantId: alice.grant.id, subjectUserId: 'alice', now: new Date(ca.notBefore.getTime() + 60_000), lifetimeDays: 1 / 1440 });
    expect(Date.parse(new X509Certificate(expired.certPem).validTo)).toBeLessThan(Date.now());
    const counted = await expectClosedAfterHandshake(expired);
    expect(counted.untrusted).toBe(2);
  });

  const BASIC_CONSTRAINTS = '2.5.29.19';
  const KEY_USAGE = '2.5.29.15';
  const EXT_KEY_USAGE = '2.5.29.37';
  const replace = (oid: string, ext: Extension) => (exts: Extension[]) => exts.map((e) => (e.type === oid ? ext : e));
  /** basicConstraints CA:TRUE */
  const caTrue = replace(BASIC_CONSTRAINTS, rawExtension(BASIC_CONSTRAINTS, true, Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0xff)));
  /** keyUsage digitalSignature + keyCertSign (bits 0 and 5) */
  const keyCertSign = replace(KEY_USAGE, rawExtension(KEY_USAGE, true, Uint8Array.of(0x03, 0x02, 0x02, 0x84)));
  /** extendedKeyUsage serverAuth only */
  const serverAuthOnly = replace(EXT_KEY_USAGE, rawExtension(EXT_KEY_USAGE, false, Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01)));

  it.each([
    ['a leaf with CA:TRUE and keyCertSign', (exts: Extension[]) => keyCertSign(caTrue(exts)), 'CERT_IS_CA'],
    ['a CA:FALSE leaf with keyCertSign', keyCertSign, 'CERT_IS_CA'],
    ['a leaf without extendedKeyUsage', (exts: Extension[]) => exts.filter((e) => e.type !== EXT_KEY_USAGE), 'CERT_WRONG_PURPOSE'],
    // OpenSSL refuses these two itself, at the handshake
    ['a leaf whose extendedKeyUsage is serverAuth only', serverAuthOnly, 'handshake'],
    ['a leaf with an unknown critical extension', (exts: Extension[]) => [...exts, rawExtension('1.3.6.1.4.1.99999.77', true, Uint8Array.of(0x05, 0x00))], 'handshake'],
  ])("%s from work's CA is refused even as the grant's current certificate (case 7a)", async (_what, profile, expected) => {
    const grant = await pendingGrant('profile');
    const cert = await customCert(mosaicRawExtensions(grant.id, 'alice'), profile);
    await adopt(grant.id, cert.certPem);
    if (expected === 'handshake') {
      expect((await expectClosedAfterHandshake(cert, [['POST', '/list/tasks']])).untrusted).toBe(1);
      return;
    }
    // OpenSSL accepts these; the listener's profile check (once per certificate) refuses them —
    // on every connection: a refusal is never remembered as a pass (nor the grant's good
    // certificate's pass lent to this one)
    await h.call(h.agent(aliceCreds), 'POST', '/list/tasks', { body: {} });
    for (let connection = 0; connection < 2; connection++) {
      const r = await h.call(h.agent(cert), 'POST', '/list/tasks', { body: {} });
      expectRefusal(r, 401, 'IDENTITY_INVALID');
      expect(r.body.error?.message).toContain(`(${expected})`);
    }
  });

  // ── certificate content ───────────────────────────────────────────────────────────────

  const utf8 = (text: string) => utf8StringDer(text);
  const grantExt = (value: Uint8Array) => rawExtension(MOSAIC_GRANT_ID_OID, false, value);
  const subjectExt = (value: Uint8Array) => rawExtension(MOSAIC_SUBJECT_USER_ID_OID, false, value);
  /** The grant id's UTF8String with another first byte (tag) or more bytes. */
  const retagged = (tag: number, text: string) => Uint8Array.from([tag, ...utf8(text).subarray(1)]);
  const withTail = (bytes: Uint8Array, ...tail: number[]) => Uint8Array.from([...bytes, ...tail]);

  it.each([
    ['the grant-id extension is missing', 'EXT_MISSING', () => [subjectExt(utf8('alice'))]],
    ['the subject extension is missing', 'EXT_MISSING', (g: string) => [grantExt(utf8(g))]],
    ['the grant-id extension appears twice', 'EXT_DUPLICATE', (g: string) => [grantExt(utf8(g)), grantExt(utf8(g)), subjectExt(utf8('alice'))]],
    ['the subject extension appears twice, naming two users', 'EXT_DUPLICATE', (g: string) => [grantExt(utf8(g)), subjectExt(utf8('alice')), subjectExt(utf8('bob'))]],
    ['the grant id is a PrintableString, not a UTF8String', 'EXT_BAD_TAG', (g: string) => [grantExt(retagged(0x13, g)), subjectExt(utf8('alice'))]],
    ['a long-form length claims 64 bytes where 36 follow', 'EXT_BAD_LENGTH', (g: string) => [grantExt(Uint8Array.from([0x0c, 0x81, 0x40, ...Buffer.from(g)])), subjectExt(utf8('alice'))]],
    ['the subject has an indefinite length', 'EXT_BAD_LENGTH', (g: string) => [grantExt(utf8(g)), subjectExt(Uint8Array.from([0x0c, 0x80, ...Buffer.from('alice'), 0x00, 0x00]))]],
    ['bytes trail the grant id', 'EXT_TRAILING_BYTES', (g: string) => [grantExt(withTail(utf8(g), 0x00)), subjectExt(utf8('alice'))]],
    ['the subject is not valid UTF-8', 'EXT_BAD_UTF8', (g: string) => [grantExt(utf8(g)), subjectExt(Uint8Array.of(0x0c, 0x06, 0x61, 0x6c, 0xc3, 0x28, 0x63, 0x65))]],
    ['the grant id is not a UUID', 'EXT_BAD_GRANT_ID', () => [grantExt(utf8('not-a-grant-id')), subjectExt(utf8('alice'))]],
    ['the grant id is an upper-case UUID', 'EXT_BAD_GRANT_ID', (g: string) => [grantExt(utf8(g.toUpperCase())), subjectExt(utf8('alice'))]],
  ])("a certificate from work's CA where %s is 401 IDENTITY_INVALID (%s) on every verb, no rows (cases 8, 9)", async (_what, reason, extensions) => {
    const cert = await customCert(extensions(alice.grant.id));
    const agent = h.agent(cert);
    for (const [method, path, body] of VERB_ROUTES.slice(0, 4)) {
      const r = await h.call(agent, method, path, body === undefined ? {} : { body });
      expectRefusal(r, 401, 'IDENTITY_INVALID');
      expect(r.body.error?.message).toContain(`(${reason})`);
    }
  });

  it("a certificate for grant X (alice's) whose subject extension says bob is 403, and work then closes the socket (case 10)", async () => {
    // control: the same construction with the right subject reads, so only the subject refuses
    const good = await pendingGrant('subject-ok');
    const right = await makeClientCert(ca, { grantId: good.id, subjectUserId: 'alice' });
    await adopt(good.id, right.certPem);
    expect((await h.call(h.agent(right), 'POST', '/list/tasks', { body: {} })).status).toBe(200);

    const grant = await pendingGrant('subject-bob');
    const wrong = await makeClientCert(ca, { grantId: grant.id, subjectUserId: 'bob' });
    await adopt(grant.id, wrong.certPem);
    const c = await open(wrong);
    const r = await c.send('POST', '/list/tasks', { body: {} });
    expectRefusal(r, 403, 'GRANT_UNKNOWN');
    expect(r!.body.error?.message).toMatch(/subject/);
    expect(r!.headers.connection).toBe('close');
    await within(c.closed, 2_000, 'the socket closed by work');
    expect(await c.send('POST', '/search/tasks', { body: { query: 'bob' } })).toBeNull();
  });

  it('re-enrollment revokes every earlier serial at once: their open sockets are closed and new connections refused (cases 11, 36)', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: SCOPE });
    const first = await link.credentials();
    const anonymous = h.agent();
    const reenroll = async (): Promise<Cred> => {
      const { token } = await h.work.admin.createToken(link.grant.id, { reenroll: true });
      const { csrPem, keyPem } = await freshCsr();
      const r = await h.call(anonymous, 'POST', `/enroll/${token}`, { body: { csrPem } });
      expect(r.status).toBe(200);
      return { certPem: r.body.certPem as string, keyPem };
    };
    const serialOf = (cred: Cred) => normaliseSerialHex(new X509Certificate(cred.certPem).serialNumber)!;

    const onFirst = await open(first);
    expect((await onFirst.send('GET', '/capabilities'))?.status).toBe(200);
    const second = await reenroll();
    await within(onFirst.closed, 2_000, "the first certificate's socket closed by work");
    const onSecond = await open(second);
    expect((await onSecond.send('GET', '/capabilities'))?.status).toBe(200);
    const third = await reenroll();
    await within(onSecond.closed, 2_000, "the second certificate's socket closed by work");
    expect(await onSecond.send('POST', '/list/tasks', { body: {} })).toBeNull();

    for (const old of [first, second]) expect((await expectClosedAfterHandshake(old, [['GET', '/capabilities']])).revoked).toBe(1);
    expect((await h.call(h.agent(third), 'POST', '/list/tasks', { body: {} })).status).toBe(200);
    const revoked = await work().storage.certs.revokedSerials();
    expect([serialOf(first), serialOf(second), serialOf(third)].map((s) => revoked.has(s))).toEqual([true, true, false]);
    // home's stored (first) certificate is refused too, with the error that says so
    await expect((await link.client()).capabilities()).rejects.toMatchObject({ code: 'PEER_REFUSED_CERT' });
  });

  it('renewal is 409 RENEWAL_NOT_DUE before its window and issues nothing (case 36)', async () => {
    const before = await work().storage.certs.serialsOfGrant(alice.grant.id);
    const client = await alice.client();
    await expect(client.renew((await freshCsr()).csrPem)).rejects.toMatchObject({ status: 409, code: 'RENEWAL_NOT_DUE' });
    expect(await work().storage.certs.serialsOfGrant(alice.grant.id)).toEqual(before);
    expect((await client.capabilities()).status).toBe(200);
  });

  it('after a renewal the old serial works through the overlap, then its sockets close, it is refused and listed on the CRL (case 36)', async () => {
    // a grant ending in 5 days caps its certificate there: renewal is due at once
    const link = await h.link({ subjectUserId: 'alice', scope: SCOPE, expiresAt: new Date(Date.now() + 5 * 86_400_000).toISOString() });
    const old = await link.credentials();
    const oldSerial = normaliseSerialHex(new X509Certificate(old.certPem).serialNumber)!;
    const onOld = await open(old);
    expect((await onOld.send('GET', '/capabilities'))?.status).toBe(200);

    const { csrPem, keyPem } = await freshCsr();
    const renewed = await (await link.client()).renew(csrPem);
    const fresh: Cred = { certPem: renewed.body.certPem, keyPem };
    const newSerial = normaliseSerialHex(new X509Certificate(fresh.certPem).serialNumber)!;
    // the overlap: the old certificate still reads, on its open socket and on a new one
    expect((await onOld.send('POST', '/list/tasks', { body: {} }))?.status).toBe(200);
    expect((await h.call(h.agent(old), 'GET', '/capabilities')).status).toBe(200);
    const scheduled = await work().storage.certs.get(oldSerial);
    expect(Date.parse(scheduled!.revokedAt!) - Date.now()).toBeGreaterThan(9 * 60_000);

    // Ten minutes pass: the scheduled revocation is moved to a second from now (keeping the
    // earlier time is what the store does), and the gateway re-reads its schedule.
    const moved = await work().storage.certs.revokeAllExcept(link.grant.id, newSerial, { at: new Date(Date.now() + 1_000), reason: 'superseded' });
    expect(moved).toEqual([oldSerial]);
    await work().revocation.scheduleNext();
    await within(onOld.closed, 5_000, "the old certificate's socket closed when its revocation came");

    expect((await expectClosedAfterHandshake(old, [['GET', '/capabilities']])).revoked).toBe(1);
    expect((await h.call(h.agent(fresh), 'POST', '/list/tasks', { body: {} })).status).toBe(200);
    const crl = await request(`${h.workUrl}${FEDERATION_PREFIX}/crl`, { dispatcher: h.agent() });
    const der = new Uint8Array(await crl.body.arrayBuffer());
    expect(parseCrl(der, work().ca.caCertPem).revokedSerials.has(oldSerial)).toBe(true);
  });

  it('revoking the grant closes the open keep-alive socket, refuses new connections and TLS session resumption (cases 4, 5)', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: SCOPE });
    const cred = await link.credentials();
    const c = await open(cred);
    expect((await c.send('GET', '/capabilities'))?.status).toBe(200);
    // With tickets off, OpenSSL still hands TLS 1.3 clients a (stateful) session: offer it back.
    const session = c.socket.getSession();
    expect(session).toBeDefined();

    await h.work.admin.revokeGrant(link.grant.id, 'stolen laptop');
    await within(c.closed, 2_000, 'the open socket closed by work');
    expect(await c.send('POST', '/list/tasks', { body: {} })).toBeNull();
    expect((await expectClosedAfterHandshake(cred)).revoked).toBe(2);

    const before = refused().revoked;
    const resumed = await open(cred, { session: session! });
    expect(resumed.socket.isSessionReused()).toBe(false);
    expect(await resumed.send('POST', '/list/tasks', { body: {} })).toBeNull();
    expect(refused().revoked).toBe(before + 1);
  });

  // Only PostgreSQL can hold a read mid-flight (another connection's lock); node:sqlite reads
  // run to the end synchronously, so on the embedded store no revoke can land in between.
  if (engine.name === 'postgres') {
    it('a request in flight when its grant is revoked gets 403 instead of its rows, then work closes the socket (case 4)', async () => {
      const link = await h.link({ subjectUserId: 'alice', scope: SCOPE });
      const c = await open(await link.credentials());
      expect((await c.send('GET', '/capabilities'))?.status).toBe(200);
      const locker = new pg.Client({ connectionString: workLocation.databaseUrl });
      await locker.connect();
      let locked = true;
      try {
        await locker.query('begin');
        await locker.query('lock table tasks in access exclusive mode');
        const pending = c.send('POST', '/list/tasks', { body: {} });
        // work's read of the rows is queued behind our lock: the request is in flight
        for (let i = 0; ; i++) {
          const { rows } = await locker.query<{ n: number }>("select count(*)::int as n from pg_locks where not granted and relation = 'tasks'::regclass");
          if (rows[0]!.n > 0) break;
          if (i > 100) throw new Error("work's query never waited on the lock");
          await sleep(20);
        }
        await h.work.admin.revokeGrant(link.grant.id, 'revoked mid-request');
        await locker.query('rollback');
        locked = false;
        const r = await within(pending, 5_000, 'the in-flight answer');
        expectRefusal(r, 403, 'GRANT_REVOKED');
        expect(r!.text).not.toMatch(LEAK);
        await within(c.closed, 2_000, 'the socket closed by work after the 403');
      } finally {
        if (locked) await locker.query('rollback').catch(() => undefined);
        await locker.end();
      }
    });
  }

  it('a grant revoked behind this process (another replica, same store): the next request on an open socket is 403 GRANT_REVOKED, then work closes it (case 4)', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: SCOPE });
    const c = await open(await link.credentials());
    expect((await c.send('GET', '/capabilities'))?.status).toBe(200);
    // the grant row only: this process's revoked-serial set and sockets are not told
    await work().storage.grants.revoke(link.grant.id, { reason: 'revoked on another replica' });
    await sleep(1_100); // the grant cache's TTL
    const r = await c.send('POST', '/list/tasks', { body: {} });
    expectRefusal(r, 403, 'GRANT_REVOKED');
    expect(r!.headers.connection).toBe('close');
    await within(c.closed, 2_000, 'the socket closed by work after the 403');
  });

  it('a client offering HTTP/2 still gets HTTP/1.1 and the same identity checks (case 7c)', async () => {
    const server = work().federation.app.server;
    const protocols: Array<string | false | null> = [];
    const record = (socket: TLSSocket) => protocols.push(socket.alpnProtocol);
    server.on('secureConnection', record);
    try {
      // home's own client, and a raw agent, both offering h2
      expect((await (await alice.client({ allowH2: true })).list('tasks')).status).toBe(200);
      expect((await h.call(h.agent(aliceCreds, { allowH2: true }), 'POST', '/list/tasks', { body: {} })).status).toBe(200);
      // no certificate
      expectRefusal(await h.call(h.agent(undefined, { allowH2: true }), 'POST', '/list/tasks', { body: {} }), 401, 'CLIENT_CERT_REQUIRED');
      // a broken identity
      const broken = await customCert([grantExt(utf8(alice.grant.id))]);
      expectRefusal(await h.call(h.agent(broken, { allowH2: true }), 'POST', '/list/tasks', { body: {} }), 401, 'IDENTITY_INVALID');
      // the wrong subject
      const grant = await pendingGrant('h2-subject');
      const wrong = await makeClientCert(ca, { grantId: grant.id, subjectUserId: 'bob' });
      await adopt(grant.id, wrong.certPem);
      expectRefusal(await h.call(h.agent(wrong, { allowH2: true }), 'POST', '/list/tasks', { body: {} }), 403, 'GRANT_UNKNOWN');
      // a revoked certificate: through home's client and a raw agent
      const revoked = await h.link({ subjectUserId: 'alice', scope: SCOPE });
      await h.work.admin.revokeGrant(revoked.grant.id, 'test');
      await expect((await revoked.client({ allowH2: true })).capabilities()).rejects.toMatchObject({ code: 'PEER_REFUSED_CERT' });
      const err = (await h.call(h.agent(await revoked.credentials(), { allowH2: true }), 'GET', '/capabilities').catch((e: unknown) => e)) as { code?: string };
      expect(err.code).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    } finally {
      server.off('secureConnection', record);
    }
    expect(protocols.length).toBeGreaterThanOrEqual(6);
    expect(new Set(protocols)).toEqual(new Set(['http/1.1']));
  });

  it("a caller's malformed x-request-id and traceparent are ignored and never stored; well-formed ones are kept (case 37)", async () => {
    const MARK = 'zq37mark';
    const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
    const GOOD_TRACEPARENT = `00-${TRACE}-00f067aa0ba902b7-01`;
    const malformed: Array<Record<string, string>> = [
      { 'x-request-id': `${MARK}${'r'.repeat(130)}` }, // too long
      { 'x-request-id': `${MARK} with spaces <and> brackets` },
      { 'x-request-id': `${MARK}\tTAB` },
      { 'x-request-id': `${MARK}-caf\u00e9` },
      { traceparent: `${MARK}-not-a-traceparent` },
      { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }, // all-zero trace id
      { traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` }, // all-zero parent id
      { traceparent: `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01` },
      { traceparent: `${GOOD_TRACEPARENT}-${MARK}` },
      { traceparent: `ff-${TRACE}-00f067aa0ba902b7-01` },
    ];
    const agent = h.agent(aliceCreds);
    const ours: string[] = [];
    for (const headers of malformed) {
      const r = await h.call(agent, 'GET', '/capabilities', { headers });
      expect(r.status).toBe(200);
      ours.push(r.headers['x-request-id'] as string);
    }
    // control characters and a bare newline cannot be sent through undici: a raw socket
    for (const line of [`x-request-id: ${MARK}\u0007bell`, `x-request-id: ${MARK}\u001b[2Jescape`, `x-request-id: ${MARK}\nx-injected: 1`, `traceparent: 00-${TRACE}\u0000-00f067aa0ba902b7-01`]) {
      const r = await (await open(aliceCreds)).send('GET', '/capabilities', { headerLines: [line] });
      // Node's strict HTTP parser refuses the whole request before any route (nothing to audit)
      expect(r?.status, JSON.stringify(line)).toBe(400);
      expect(r!.headers['x-request-id']).toBeUndefined();
      expect(r!.text).not.toContain(MARK);
    }
    // well-formed ids from home's own client are kept beside ours
    const client = await alice.client({ headers: () => ({ 'x-request-id': 'home-req.42:abc', traceparent: GOOD_TRACEPARENT }) });
    const kept = (await client.capabilities()).requestId!;

    for (const id of ours) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { found, all } = await auditRowsFor(alice.grant.id, [...ours, kept]);
    expect(found.size).toBe(ours.length + 1);
    for (const id of ours) {
      const row = found.get(id)!;
      expect(row.callerRequestId).toBeNull();
      expect([null, undefined]).not.toContain(row.requestId);
      expect(row.traceId === null || (row.traceId !== TRACE && !/^0+$/.test(row.traceId))).toBe(true);
    }
    expect(found.get(kept)).toMatchObject({ requestId: kept, callerRequestId: 'home-req.42:abc', traceId: TRACE });
    // nothing the caller sent malformed is anywhere in the grant's audit trail
    expect(JSON.stringify(all)).not.toContain(MARK);
  });

  it("home refuses work's server certificate for a name it does not carry, and an expired one, with PEER_TLS_INVALID (case 6)", async () => {
    const before = handled();
    const misnamed = await alice.client({ servername: 'not-work.example.net' });
    const err = (await misnamed.capabilities().catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('PEER_TLS_INVALID');
    expect(err.message).toContain('does not name this host');
    // an expired server certificate from work's own CA, for the right names
    const expired = await makeServerCert(ca, ['localhost', '127.0.0.1', '::1'], { now: new Date(ca.notBefore.getTime() + 60_000), lifetimeDays: 1 / 1440 });
    work().federation.setServerCertificate(expired.certPem, expired.keyPem);
    try {
      const stale = (await (await alice.client()).capabilities().catch((e: unknown) => e)) as { code: string; message: string };
      expect(stale.code).toBe('PEER_TLS_INVALID');
      expect(stale.message).toContain('CERT_HAS_EXPIRED');
    } finally {
      const valid = await makeServerCert(ca, ['localhost', '127.0.0.1', '::1']);
      work().federation.setServerCertificate(valid.certPem, valid.keyPem);
    }
    expect(handled(), 'no request was sent').toBe(before);
    expect((await (await alice.client()).capabilities()).status).toBe(200);
  });
});
