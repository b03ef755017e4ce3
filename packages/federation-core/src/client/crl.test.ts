import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCrl } from '../pki/index.js';
import { makeClientCert, makeServerCert, makeTestCa, makeTwoTierCa, type TestClientCert } from '../test-support/pki.js';
import { fetchPeerCrl, isSerialOnPeerCrl } from './crl.js';

type Ca = Awaited<ReturnType<typeof makeTestCa>>;

let ca: Ca;
let otherCa: Ca;
let serverCert: Awaited<ReturnType<typeof makeServerCert>>;
let mine: TestClientCert;
let someoneElse: TestClientCert;
const servers: Server[] = [];

beforeAll(async () => {
  ca = await makeTestCa({ commonName: 'work CA' });
  otherCa = await makeTestCa({ commonName: 'impostor CA' });
  serverCert = await makeServerCert(ca, ['localhost', '127.0.0.1']);
  mine = await makeClientCert(ca, { subjectUserId: 'alice' });
  someoneElse = await makeClientCert(ca, { subjectUserId: 'bob' });
});

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A serving side whose public `/crl` answers `crl`; records whether a client certificate was presented. */
async function serve(answer: () => Promise<{ status: number; body: Uint8Array | string }>, cert = serverCert) {
  const seen = { requests: 0, clientCertPresented: false };
  const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (req, res) => {
    seen.requests += 1;
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.clientCertPresented = peer !== null && Object.keys(peer).length > 0;
    if (req.url !== '/api/federation/v1/crl') {
      res.writeHead(404).end();
      return;
    }
    void answer().then(({ status, body }) => {
      res.writeHead(status, { 'content-type': 'application/pkix-crl' });
      res.end(typeof body === 'string' ? body : Buffer.from(body));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `https://localhost:${port}`, seen };
}

const crlListing = (signer: Ca, ...serials: string[]) => async () => ({
  status: 200,
  body: (await buildCrl({ ca: signer, revoked: serials.map((serialHex) => ({ serialHex, revokedAt: new Date() })), crlNumber: 7 })).der,
});

describe('the peer CRL check (revoked or just unreachable?)', () => {
  it('finds our serial on a CRL signed by the pinned CA, fetched without a client certificate', async () => {
    const { endpoint, seen } = await serve(crlListing(ca, mine.serialHex));
    expect(await isSerialOnPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem, serialHex: mine.serialHex.toUpperCase() })).toBe(true);
    expect(seen).toEqual({ requests: 1, clientCertPresented: false });
    const crl = await fetchPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem });
    expect(crl.crlNumber).toBe(7n);
  });

  it('says "not listed" when only other serials are revoked', async () => {
    const { endpoint } = await serve(crlListing(ca, someoneElse.serialHex));
    expect(await isSerialOnPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem, serialHex: mine.serialHex })).toBe(false);
  });

  it('refuses a CRL signed by another CA (it lists our serial, but proves nothing)', async () => {
    const { endpoint } = await serve(crlListing(otherCa, mine.serialHex));
    await expect(isSerialOnPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem, serialHex: mine.serialHex })).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
  });

  it('refuses junk and non-200 answers', async () => {
    const junk = await serve(() => Promise.resolve({ status: 200, body: 'not a crl' }));
    await expect(fetchPeerCrl({ peerName: 'work', endpoint: junk.endpoint, caPem: ca.certPem })).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    const down = await serve(() => Promise.resolve({ status: 503, body: '' }));
    await expect(fetchPeerCrl({ peerName: 'work', endpoint: down.endpoint, caPem: ca.certPem })).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID', message: expect.stringContaining('HTTP 503') });
  });

  it('trusts only the pinned CA: a server certificate from another CA is refused before anything is read', async () => {
    const impostor = await makeServerCert(otherCa, ['localhost', '127.0.0.1']);
    const { endpoint, seen } = await serve(crlListing(ca, mine.serialHex), impostor);
    await expect(fetchPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem })).rejects.toMatchObject({ code: 'PEER_TLS_INVALID' });
    expect(seen.requests).toBe(0);
  });

  it('a peer that is down is a network error, never "revoked"', async () => {
    const { endpoint } = await serve(crlListing(ca, mine.serialHex));
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await expect(isSerialOnPeerCrl({ peerName: 'work', endpoint, caPem: ca.certPem, serialHex: mine.serialHex })).rejects.toMatchObject({ code: 'PEER_UNREACHABLE' });
  });

  it('a pinned root whose intermediate signs the CRL (Step-CA): verified through the intermediate of the same TLS chain, rotated or not', async () => {
    const { root, intermediate } = await makeTwoTierCa({ commonName: 'Step' });
    const { intermediate: rotated } = await makeTwoTierCa({ commonName: 'Step', root });
    for (const signer of [intermediate, rotated]) {
      const leaf = await makeServerCert(signer, ['localhost', '127.0.0.1']);
      const { endpoint } = await serve(crlListing(signer, mine.serialHex), { ...leaf, certPem: `${leaf.certPem}${signer.certPem}` });
      expect(await isSerialOnPeerCrl({ peerName: 'work', endpoint, caPem: root.certPem, serialHex: mine.serialHex })).toBe(true);
    }
  });

  it('refuses a CRL signed by an intermediate of another root, or by one that is not in the verified chain', async () => {
    const { root, intermediate } = await makeTwoTierCa({ commonName: 'Step' });
    const { intermediate: sibling } = await makeTwoTierCa({ commonName: 'Step', root });
    const foreign = await makeTwoTierCa({ commonName: 'Other' });
    const leaf = await makeServerCert(intermediate, ['localhost', '127.0.0.1']);
    const tls = { ...leaf, certPem: `${leaf.certPem}${intermediate.certPem}` };
    const byForeign = await serve(crlListing(foreign.intermediate, mine.serialHex), tls);
    await expect(fetchPeerCrl({ peerName: 'work', endpoint: byForeign.endpoint, caPem: root.certPem })).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    // a CRL by another intermediate of the same root, which the server did not present: nothing vouches for its key here
    const bySibling = await serve(crlListing(sibling, mine.serialHex), tls);
    await expect(fetchPeerCrl({ peerName: 'work', endpoint: bySibling.endpoint, caPem: root.certPem })).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    // and a server chain that leads to another root fails the TLS check before anything is read
    const foreignLeaf = await makeServerCert(foreign.intermediate, ['localhost', '127.0.0.1']);
    const impostor = await serve(crlListing(intermediate, mine.serialHex), { ...foreignLeaf, certPem: `${foreignLeaf.certPem}${foreign.intermediate.certPem}` });
    await expect(fetchPeerCrl({ peerName: 'work', endpoint: impostor.endpoint, caPem: root.certPem })).rejects.toMatchObject({ code: 'PEER_TLS_INVALID' });
    expect(impostor.seen.requests).toBe(0);
  });

  it('refuses a malformed serial to look for', async () => {
    await expect(isSerialOnPeerCrl({ peerName: 'work', endpoint: 'https://localhost:1', caPem: ca.certPem, serialHex: 'xyz' })).rejects.toThrow(TypeError);
  });
});
