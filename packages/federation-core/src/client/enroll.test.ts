import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, decodeMosaicIdentity, generateKeyPair, issueClientCertificate, spkiPin } from '../pki/index.js';
import { makeServerCert, makeTestCa, makeTwoTierCa, randomGrantId } from '../test-support/pki.js';
import { enrollWithPin, parseEnrollmentUrl, previewPeerCa } from './enroll.js';
import { FederationRequestError } from './errors.js';

type Ca = Awaited<ReturnType<typeof makeTestCa>>;
const TOKEN = 'kq3AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-Zs';
const grantId = randomGrantId();
let ca: Ca;
let otherCa: Ca;
let csrPem: string;
const servers: Server[] = [];

beforeAll(async () => {
  ca = await makeTestCa({ commonName: 'work CA' });
  otherCa = await makeTestCa({ commonName: 'mitm CA' });
  csrPem = await createCsr({ keys: await generateKeyPair() });
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

type EnrollBehaviour = (csr: string) => Promise<{ status: number; body: unknown }>;

const issueHonestly: EnrollBehaviour = async (csr) => {
  const cert = await issueClientCertificate({ ca, csr, peerName: 'home', grantId, subjectUserId: 'alice' });
  return {
    status: 200,
    body: { certPem: cert.certPem, certChainPem: cert.certPem + ca.certPem, caCertPem: ca.certPem, grantId, subjectUserId: 'alice', serverName: 'work', notAfter: cert.notAfter.toISOString() },
  };
};

/** A serving gateway's public routes: /ca and /enroll/:token. `tlsCa` signs the listener's own certificate. */
async function startGateway(enroll: EnrollBehaviour, tlsCa: Ca = ca, servedCaPem: string = ca.certPem, tlsIntermediatePem = '') {
  const tls = await tlsOptions(tlsCa);
  const server = createServer({ ...tls, cert: `${tls.cert}${tlsIntermediatePem}`, minVersion: 'TLSv1.3' }, (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/api/federation/v1/ca') {
        res.writeHead(200, { 'content-type': 'application/x-pem-file' });
        return res.end(servedCaPem);
      }
      if (req.url === `/api/federation/v1/enroll/${TOKEN}`) {
        void enroll((JSON.parse(body) as { csrPem: string }).csrPem).then(({ status, body: out }) => {
          res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'r-1' });
          res.end(JSON.stringify(out));
        });
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  const seen: string[] = [];
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { seen, url: `https://localhost:${port}/api/federation/v1/enroll/${TOKEN}` };
}

async function tlsOptions(tlsCa: Ca) {
  const cert = await makeServerCert(tlsCa, ['localhost', '127.0.0.1']);
  return { key: cert.keyPem, cert: cert.certPem };
}

describe('enrollWithPin', () => {
  it('enrolls over the pinned connection and checks what comes back', async () => {
    const { seen, url } = await startGateway(issueHonestly);
    // the pin as a person might paste it: upper case, colon-separated
    const typed = `SHA256:${spkiPin(ca.certPem).slice('sha256:'.length).toUpperCase().match(/../g)!.join(':')}`;
    const result = await enrollWithPin(url, typed, csrPem);
    expect(decodeMosaicIdentity(result.certPem)).toEqual({ grantId, subjectUserId: 'alice' });
    expect(result.caPin).toBe(spkiPin(ca.certPem));
    expect(seen).toEqual(['GET /api/federation/v1/ca', `POST /api/federation/v1/enroll/${TOKEN}`]);
  });

  it('stops at a pin mismatch without sending the token', async () => {
    const { seen, url } = await startGateway(issueHonestly);
    const err = (await enrollWithPin(url, spkiPin(otherCa.certPem), csrPem).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('PIN_MISMATCH');
    expect(err.message).not.toContain(TOKEN);
    expect(seen).toEqual(['GET /api/federation/v1/ca']);
  });

  it('a man in the middle relaying the real /ca never receives the token', async () => {
    // terminates TLS with its own certificate, serves the genuine CA at /ca
    const mitm = await startGateway(issueHonestly, otherCa, ca.certPem);
    const err = (await enrollWithPin(mitm.url, spkiPin(ca.certPem), csrPem).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('PEER_TLS_INVALID');
    expect(mitm.seen).toEqual(['GET /api/federation/v1/ca']);
  });

  it('passes the serving side refusal through with its code', async () => {
    const { url } = await startGateway(() => Promise.resolve({ status: 410, body: { error: { code: 'TOKEN_USED', message: 'this token was already used', requestId: 'r-1' } } }));
    const err = (await enrollWithPin(url, spkiPin(ca.certPem), csrPem).catch((e: unknown) => e)) as FederationRequestError;
    expect(err).toBeInstanceOf(FederationRequestError);
    expect(err).toMatchObject({ status: 410, code: 'TOKEN_USED', requestId: 'r-1' });
  });

  it.each([
    ['a certificate for another key', async () => {
      const other = await createCsr({ keys: await generateKeyPair() });
      return issueHonestly(other);
    }, /not for the key we sent/],
    ['a certificate for another grant than it names', async (csr: string) => {
      const answer = await issueHonestly(csr);
      return { ...answer, body: { ...(answer.body as object), grantId: randomGrantId() } };
    }, /another grant or subject/],
    ['a certificate from another CA', async (csr: string) => {
      const cert = await issueClientCertificate({ ca: otherCa, csr, peerName: 'home', grantId, subjectUserId: 'alice' });
      const answer = await issueHonestly(csr);
      return { ...answer, body: { ...(answer.body as object), certPem: cert.certPem, certChainPem: cert.certPem } };
    }, /does not verify against the pinned CA/],
    ['a chain that does not start with the certificate it names', async (csr: string) => {
      const cert = await issueClientCertificate({ ca: otherCa, csr, peerName: 'home', grantId, subjectUserId: 'alice' });
      const answer = await issueHonestly(csr);
      return { ...answer, body: { ...(answer.body as object), certPem: cert.certPem } };
    }, /does not start with the issued certificate/],
    ['another CA named in the answer', async (csr: string) => {
      const answer = await issueHonestly(csr);
      return { ...answer, body: { ...(answer.body as object), caCertPem: otherCa.certPem } };
    }, /different CA/],
    ['an answer off the protocol', () => Promise.resolve({ status: 200, body: { certPem: 'x' } }), /does not fit the protocol/],
  ])('refuses %s', async (_name, behaviour, message) => {
    const { url } = await startGateway(behaviour);
    await expect(enrollWithPin(url, spkiPin(ca.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID', message: expect.stringMatching(message) as unknown });
  });

  it('refuses a /ca answer that differs from the CA the pinned connection returns, even with the same key', async () => {
    // Someone on the unverified /ca fetch alone swaps in a certificate with the real key but
    // other contents: the pin matches, the token goes only to the real server, and the forged
    // anchor is still refused.
    const forged = await makeTestCa({ commonName: 'work CA', keys: ca.keys, validityYears: 30 });
    expect(forged.certPem).not.toBe(ca.certPem);
    expect(spkiPin(forged.certPem)).toBe(spkiPin(ca.certPem));
    const { url } = await startGateway(issueHonestly, ca, forged.certPem);
    await expect(enrollWithPin(url, spkiPin(ca.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID', message: expect.stringMatching(/different CA/) as unknown });
  });

  it('pins the root of a two-tier CA (Step-CA): the listener presents leaf + intermediate, the answer carries the chain', async () => {
    const { root, intermediate } = await makeTwoTierCa({ commonName: 'Step' });
    const foreign = await makeTwoTierCa({ commonName: 'Other' });
    const answer = (issuer: Ca, chain: (certPem: string) => string): EnrollBehaviour => async (csr) => {
      const cert = await issueClientCertificate({ ca: issuer, csr, peerName: 'home', grantId, subjectUserId: 'alice' });
      return { status: 200, body: { certPem: cert.certPem, certChainPem: chain(cert.certPem), caCertPem: root.certPem, grantId, subjectUserId: 'alice', serverName: 'work', notAfter: cert.notAfter.toISOString() } };
    };
    const honest = await startGateway(answer(intermediate, (c) => `${c}${intermediate.certPem}`), intermediate, root.certPem, intermediate.certPem);
    const result = await enrollWithPin(honest.url, spkiPin(root.certPem), csrPem);
    expect(result.caPem).toBe(root.certPem);
    expect(result.caPin).toBe(spkiPin(root.certPem));
    expect(result.certChainPem).toBe(`${result.certPem}${intermediate.certPem}`);
    // without the intermediate, the certificate does not lead to the pinned root
    const bare = await startGateway(answer(intermediate, (c) => c), intermediate, root.certPem, intermediate.certPem);
    await expect(enrollWithPin(bare.url, spkiPin(root.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    // a certificate (and chain) from another root is refused
    const impostor = await startGateway(answer(foreign.intermediate, (c) => `${c}${foreign.intermediate.certPem}`), intermediate, root.certPem, intermediate.certPem);
    await expect(enrollWithPin(impostor.url, spkiPin(root.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    // a chain that does not start with the certificate of the answer is refused
    const other = await issueClientCertificate({ ca: intermediate, csr: csrPem, peerName: 'home', grantId, subjectUserId: 'alice' });
    const swapped = await startGateway(answer(intermediate, () => `${other.certPem}${intermediate.certPem}`), intermediate, root.certPem, intermediate.certPem);
    await expect(enrollWithPin(swapped.url, spkiPin(root.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID', message: expect.stringContaining('does not start with') });
    // a listener whose chain leads to another root fails TLS: the token is never sent
    const mitm = await startGateway(answer(intermediate, (c) => `${c}${intermediate.certPem}`), foreign.intermediate, root.certPem, foreign.intermediate.certPem);
    await expect(enrollWithPin(mitm.url, spkiPin(root.certPem), csrPem)).rejects.toMatchObject({ code: 'PEER_TLS_INVALID' });
    expect(mitm.seen).toEqual(['GET /api/federation/v1/ca']);
  });

  it('checks its own CSR before anything is sent', async () => {
    const { seen, url } = await startGateway(issueHonestly);
    await expect(enrollWithPin(url, spkiPin(ca.certPem), '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')).rejects.toMatchObject({ code: 'CSR_INVALID' });
    expect(seen).toEqual([]);
  });

  it('previewPeerCa shows the pin of the CA the server presents, without sending the token', async () => {
    const { seen, url } = await startGateway(issueHonestly);
    const preview = await previewPeerCa(url);
    expect(preview).toEqual({ caPem: ca.certPem, caPin: spkiPin(ca.certPem), serverName: 'localhost' });
    expect(seen).toEqual(['GET /api/federation/v1/ca']);
  });

  it('reports an unreachable gateway as such', async () => {
    await expect(previewPeerCa(`https://127.0.0.1:1/api/federation/v1/enroll/${TOKEN}`)).rejects.toMatchObject({ code: 'PEER_UNREACHABLE' });
  });
});

describe('parseEnrollmentUrl', () => {
  it('splits a good URL, with or without a path prefix', () => {
    expect(parseEnrollmentUrl(` https://work.example.net:8443/api/federation/v1/enroll/${TOKEN}\n`)).toMatchObject({ baseUrl: 'https://work.example.net:8443', hostname: 'work.example.net', token: TOKEN });
    expect(parseEnrollmentUrl(`https://gw.example/mosaic/api/federation/v1/enroll/${TOKEN}`).baseUrl).toBe('https://gw.example/mosaic');
  });

  it.each([
    ['not a url', /does not parse/],
    [`http://work.example/api/federation/v1/enroll/${TOKEN}`, /must start with https/],
    [`https://u:p@work.example/api/federation/v1/enroll/${TOKEN}`, /user name/],
    [`https://work.example/api/federation/v1/enroll/${TOKEN}?x=1`, /query string/],
    [`https://work.example/api/federation/v1/ca`, /path must end/],
    [`https://work.example/api/federation/v1/enroll/${TOKEN.slice(0, 8)}`, /token at its end is malformed/],
  ])('refuses %s with a reason that does not repeat the token', (input, reason) => {
    let message = '';
    try {
      parseEnrollmentUrl(input);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe('ENROLLMENT_URL_INVALID');
    }
    expect(message).toMatch(reason);
    expect(message).not.toContain(TOKEN.slice(0, 8));
  });
});
