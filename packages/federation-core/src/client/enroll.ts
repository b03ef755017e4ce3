import { X509Certificate } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { EnrollmentUrlInvalidError, PeerResponseInvalidError, PinMismatchError, FederationRequestError } from './errors.js';
import { FEDERATION_PREFIX, mapNetworkError, printable, serverNameFor, strictServerIdentity } from './federation-client.js';
import { parseRequestId } from '../protocol/identifiers.js';
import { decodeMosaicIdentity, parseCsr, parsePin, pinsEqual, spkiPin, spkiPinFromSpki, verifyCertificateChain, type VerifiedChain } from '../pki/index.js';
import { ENROLL_PATH, enrollmentUrlProblem, enrollResponseSchema, errorEnvelopeSchema, splitEnrollmentUrl, type EnrollmentUrlParts, type EnrollResponse } from '../protocol/index.js';

/**
 * Parse `https://<host>[:port][/prefix]/api/federation/v1/enroll/<token>`. Errors say what is
 * wrong with the URL without repeating it (it carries the token).
 */
export function parseEnrollmentUrl(input: string): EnrollmentUrlParts {
  const parts = splitEnrollmentUrl(input);
  if (parts !== null) return parts;
  throw new EnrollmentUrlInvalidError(enrollmentUrlProblem(input) ?? 'it is malformed');
}

export interface PeerCaPreview {
  /** The CA certificate the server presents at `/ca` (not yet trusted). */
  caPem: string;
  /** Its SPKI pin, `sha256:<hex>`. */
  caPin: string;
  /** The host the enrollment URL names: what the server certificate must match. */
  serverName: string;
}

export interface EnrollOptions {
  timeoutMs?: number;
  /** Offer HTTP/2 (default false). */
  allowH2?: boolean;
}

/**
 * Fetch the CA a serving gateway presents, for a person to compare its pin with the one
 * they were given. The download itself is not trusted — only the pin comparison makes it so —
 * and the token is not sent.
 */
export async function previewPeerCa(enrollmentUrl: string, options: EnrollOptions = {}): Promise<PeerCaPreview> {
  const url = parseEnrollmentUrl(enrollmentUrl);
  const agent = new Agent({
    connect: { rejectUnauthorized: false, minVersion: 'TLSv1.3', maxCachedSessions: 0, timeout: options.timeoutMs ?? 10_000, servername: serverNameFor(new URL(url.baseUrl)) },
    maxResponseSize: 64 * 1024,
  });
  try {
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(new URL(`${url.baseUrl}${FEDERATION_PREFIX}/ca`), { method: 'GET', dispatcher: agent, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
      text = await res.body.text();
    } catch (err) {
      throw mapNetworkError(url.host, err);
    }
    if (res.statusCode !== 200) throw new PeerResponseInvalidError(url.host, `GET /ca answered HTTP ${res.statusCode}`);
    let caPin: string;
    try {
      caPin = spkiPin(text);
    } catch (err) {
      throw new PeerResponseInvalidError(url.host, '/ca did not return a certificate', { cause: err });
    }
    return { caPem: text, caPin, serverName: url.hostname };
  } finally {
    await agent.close();
  }
}

export interface EnrollResult extends EnrollResponse {
  /**
   * The certificate followed by the intermediates that lead to the pinned CA (verified; just the
   * certificate when the pinned CA signs it directly): what the peer presents over mTLS.
   */
  certChainPem: string;
  /** The pinned CA, verified: store it as the peer's only trust anchor. */
  caPem: string;
  caPin: string;
}

/**
 * Redeem an enrollment token with a pinned CA. The CA the server presents is compared with
 * `caPin` first (mismatch: nothing is sent); the token then goes only over a TLS connection
 * that trusts that CA alone and checks the host name, so a man in the middle relaying the
 * real `/ca` never sees it. The answer is checked: the certificate chains to the pinned CA,
 * is a client certificate, and its two Mosaic extensions match the grant the server names.
 */
export async function enrollWithPin(enrollmentUrl: string, caPin: string, csrPem: string, options: EnrollOptions = {}): Promise<EnrollResult> {
  const url = parseEnrollmentUrl(enrollmentUrl);
  const expectedPin = parsePin(caPin);
  // Our own CSR is checked before anything is sent: a bad one must not spend the token.
  const csrSpkiPin = spkiPinFromSpki(parseCsr(csrPem).spki);
  const preview = await previewPeerCa(enrollmentUrl, options);
  if (!pinsEqual(preview.caPin, expectedPin)) throw new PinMismatchError(url.host, preview.caPin);

  const agent = new Agent({
    connect: {
      // the pinned CA is the root: a server certificate signed by an intermediate (Step-CA
      // mode) verifies through the intermediate the server presents with it
      ca: preview.caPem,
      rejectUnauthorized: true,
      checkServerIdentity: strictServerIdentity,
      minVersion: 'TLSv1.3',
      maxCachedSessions: 0,
      servername: serverNameFor(new URL(url.baseUrl)),
      timeout: options.timeoutMs ?? 10_000,
    },
    allowH2: options.allowH2 ?? false,
    maxResponseSize: 256 * 1024,
  });
  let res: Dispatcher.ResponseData;
  let text: string;
  try {
    try {
      res = await request(new URL(`${url.baseUrl}${ENROLL_PATH}${url.token}`), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ csrPem }),
        dispatcher: agent,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      text = await res.body.text();
    } catch (err) {
      throw mapNetworkError(url.host, err);
    }
  } finally {
    await agent.close();
  }
  const requestId = parseRequestId(res.headers['x-request-id']);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PeerResponseInvalidError(url.host, `the enrollment answer (HTTP ${res.statusCode}) is not JSON`);
  }
  if (res.statusCode !== 200) {
    const envelope = errorEnvelopeSchema.safeParse(json);
    if (envelope.success && /^[A-Z][A-Z0-9_]{1,63}$/.test(envelope.data.error.code)) {
      throw new FederationRequestError(url.host, res.statusCode, envelope.data.error.code, printable(envelope.data.error.message), requestId);
    }
    throw new FederationRequestError(url.host, res.statusCode, 'ENROLLMENT_FAILED', `enrollment answered HTTP ${res.statusCode}`, requestId);
  }
  const parsed = enrollResponseSchema.safeParse(json);
  if (!parsed.success) throw new PeerResponseInvalidError(url.host, 'the enrollment answer does not fit the protocol');
  const answer = parsed.data;
  // The CA certificate we keep as the peer's trust anchor is the one received over the pinned
  // connection, and it must be byte-for-byte the one whose pin was checked: the preview came
  // over an unverified connection, and a pin covers only the key, not the rest of the cert.
  if (!sameCertificate(answer.caCertPem, preview.caPem) || !pinsEqual(spkiPin(answer.caCertPem), expectedPin)) {
    throw new PeerResponseInvalidError(url.host, 'the enrollment answer names a different CA than the pinned one');
  }
  // The certificate and the chain it is presented with (leaf + intermediates when the pinned
  // root does not sign leaves itself): verified to lead to the pinned CA, and the chain's leaf
  // must be the certificate itself.
  let chain: VerifiedChain;
  try {
    chain = verifyCertificateChain(answer.certChainPem, answer.caCertPem, { purpose: 'client' });
  } catch (err) {
    throw new PeerResponseInvalidError(url.host, 'the issued certificate does not verify against the pinned CA as a client certificate', { cause: err });
  }
  if (!sameCertificate(chain.leafPem, answer.certPem)) throw new PeerResponseInvalidError(url.host, 'the certificate chain of the answer does not start with the issued certificate');
  if (!pinsEqual(spkiPin(answer.certPem), csrSpkiPin)) throw new PeerResponseInvalidError(url.host, 'the issued certificate is not for the key we sent');
  let identity: { grantId: string; subjectUserId: string };
  try {
    identity = decodeMosaicIdentity(answer.certPem);
  } catch (err) {
    throw new PeerResponseInvalidError(url.host, 'the issued certificate lacks valid Mosaic extensions', { cause: err });
  }
  if (identity.grantId !== answer.grantId || identity.subjectUserId !== answer.subjectUserId) {
    throw new PeerResponseInvalidError(url.host, 'the issued certificate names another grant or subject than the answer');
  }
  return { ...answer, certChainPem: chain.intermediates.length === 0 ? answer.certPem : chain.chainPem, caPem: answer.caCertPem, caPin: preview.caPin };
}

function sameCertificate(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
  } catch {
    return false;
  }
}
