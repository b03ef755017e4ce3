/**
 * "Revoked or just unreachable?" A client certificate refused under TLS 1.3 looks like any
 * other closed connection ("other side closed"). The requesting side tells the two apart by
 * reading the peer's published CRL — over a TLS connection that trusts only the peer's pinned
 * CA and presents no client certificate (the CRL route is public) — verifying its signature
 * against that same CA (or, when the pinned root does not sign CRLs itself — Step-CA mode —
 * against an intermediate of that connection's verified chain that the pinned root signed),
 * and looking for its own serial.
 */
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { MAX_CRL_BYTES, normaliseSerialHex, parseCrlUnderRoot, type ParsedCrl, type RevocationReasonName } from '../pki/index.js';
import { PeerResponseInvalidError } from './errors.js';
import { federationUrl, mapNetworkError, serverNameFor, strictServerIdentity } from './federation-client.js';

export interface PeerCrlOptions {
  /** Local name of the peer, for errors. */
  peerName: string;
  /** Base URL of the peer's federation listener (a path prefix is kept). */
  endpoint: string;
  /** The peer's pinned CA (PEM): the only trust anchor of the connection and the CRL's expected signer. */
  caPem: string;
  /** TLS server name to verify (default: the endpoint's host). */
  servername?: string;
  /** Connect to last byte (default 5 s). */
  timeoutMs?: number;
}

/**
 * Fetch `GET /api/federation/v1/crl` from a peer and verify it against the peer's pinned CA.
 *
 * @throws PEER_UNREACHABLE / PEER_REFUSED_CERT / PEER_TLS_INVALID when the connection fails,
 *   PEER_RESPONSE_INVALID when the answer is not a CRL signed by that CA
 * @example
 * const crl = await fetchPeerCrl({ peerName: 'work', endpoint, caPem });
 * crl.revokedSerials.has(mySerialHex);
 */
export async function fetchPeerCrl(options: PeerCrlOptions): Promise<ParsedCrl> {
  const endpoint = new URL(options.endpoint);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const connector = buildConnector({
    ca: options.caPem,
    servername: options.servername ?? serverNameFor(endpoint),
    rejectUnauthorized: true,
    checkServerIdentity: strictServerIdentity,
    minVersion: 'TLSv1.3',
    maxCachedSessions: 0,
    timeout: timeoutMs,
  });
  // The CA certificates of the chain OpenSSL verified against the pinned root on this very
  // connection: the candidates for the CRL's signer (each is checked again to be signed by the root).
  const chainCas: Uint8Array[] = [];
  const agent = new Agent({
    connect: (opts, callback) =>
      connector(opts, (err, socket) => {
        if (err === null) chainCas.push(...verifiedChainCas(socket as TLSSocket));
        if (err === null) callback(null, socket);
        else callback(err, null);
      }),
    maxResponseSize: MAX_CRL_BYTES,
  });
  try {
    let res: Dispatcher.ResponseData;
    let der: Uint8Array;
    try {
      res = await request(federationUrl(endpoint, '/crl'), {
        method: 'GET',
        dispatcher: agent,
        headers: { accept: 'application/pkix-crl' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      der = new Uint8Array(await res.body.arrayBuffer());
    } catch (err) {
      throw mapNetworkError(options.peerName, err);
    }
    if (res.statusCode !== 200) throw new PeerResponseInvalidError(options.peerName, `GET /crl answered HTTP ${res.statusCode}`);
    try {
      return parseCrlUnderRoot(der, options.caPem, chainCas);
    } catch (err) {
      throw new PeerResponseInvalidError(options.peerName, `the CRL does not verify against the pinned CA (${err instanceof Error ? err.message : 'invalid'})`, { cause: err });
    }
  } finally {
    await agent.close();
  }
}

/** The issuers above the leaf in a TLS socket's peer chain (DER). */
function verifiedChainCas(socket: TLSSocket): Uint8Array[] {
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return [];
  const out: Uint8Array[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  for (let depth = 0; cert?.issuerCertificate !== undefined && cert.issuerCertificate !== cert && depth < 4; depth += 1) {
    cert = cert.issuerCertificate;
    if (cert.raw) out.push(new Uint8Array(cert.raw));
  }
  return out;
}

/**
 * Whether `serialHex` (any case, `:` separators allowed) is listed on the peer's verified CRL.
 * A CRL that cannot be fetched or verified throws: the caller cannot tell, so it must not
 * conclude "revoked".
 */
export async function isSerialOnPeerCrl(options: PeerCrlOptions & { serialHex: string }): Promise<boolean> {
  return (await peerCrlEntry(options)) !== null;
}

/** What the peer's CRL says about one serial. */
export interface PeerCrlEntry {
  readonly serialHex: string;
  readonly revokedAt: Date;
  /** The entry's reason code, when it has one. */
  readonly reason?: RevocationReasonName;
}

/**
 * The entry of `serialHex` (any case, `:` separators allowed) on the peer's verified CRL, with
 * its reason, or null when it is not listed. A reason tells a certificate replaced
 * (`superseded`: renewed or enrolled again) from a grant revoked. A CRL that cannot be fetched
 * or verified throws.
 */
export async function peerCrlEntry(options: PeerCrlOptions & { serialHex: string }): Promise<PeerCrlEntry | null> {
  const serial = normaliseSerialHex(options.serialHex);
  if (serial === undefined) throw new TypeError('not a certificate serial');
  const crl = await fetchPeerCrl(options);
  for (const entry of crl.revoked) {
    if (normaliseSerialHex(entry.serialHex) !== serial) continue;
    return entry.reason === undefined ? { serialHex: serial, revokedAt: entry.revokedAt } : { serialHex: serial, revokedAt: entry.revokedAt, reason: entry.reason };
  }
  return null;
}
