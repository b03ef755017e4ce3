import { createError, MosaicError } from '../errors.js';

/** The peer answered with an error envelope (or a non-2xx without one). */
export class FederationRequestError extends MosaicError {
  readonly peer: string;
  readonly status: number;
  readonly requestId: string | null;
  readonly retryAfterSeconds: number | null;

  constructor(peer: string, status: number, code: string, message: string, requestId: string | null, retryAfterSeconds: number | null = null) {
    super(code, `${peer}: ${message}`, status, { remediation: remediationFor(code, peer) });
    this.name = 'FederationRequestError';
    this.peer = peer;
    this.status = status;
    this.requestId = requestId;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function remediationFor(code: string, peer: string): string | undefined {
  switch (code) {
    case 'GRANT_REVOKED':
    case 'GRANT_EXPIRED':
    case 'GRANT_NOT_FOUND':
      return `the serving side no longer honours this peer's grant; ask its admin for a new grant and token, then \`mosaic federation peer add\` again`;
    case 'RESOURCE_DENIED':
      return `the grant's scope does not include this resource; \`mosaic federation peer show ${peer}\` lists what it may read`;
    case 'RATE_LIMITED':
      return 'wait for the Retry-After interval, or ask the serving admin to raise rate_limit_per_minute';
    case 'RENEWAL_NOT_DUE':
      return 'renewal is only accepted once it is due (2/3 of the lifetime); `mosaic federation peer needs-renewal` tells';
    default:
      return undefined;
  }
}

/** The connection failed: refused, timed out, reset, or closed by the other side. */
export const PeerUnreachableError = createError<[string, string]>(
  'PEER_UNREACHABLE',
  '%s: %s',
  502,
  'check that the peer gateway is running and reachable; `mosaic federation status` shows the last error',
);

/**
 * The serving side closed the connection right after the TLS handshake — what a refused
 * client certificate looks like under TLS 1.3 (revoked, expired, or from another CA).
 */
export const PeerRefusedCertificateError = createError<[string]>(
  'PEER_REFUSED_CERT',
  '%s: the server refused our certificate (revoked, expired, or from another CA)',
  502,
  'run `mosaic federation peer inspect <name>` to check the certificate; a revoked or expired peer needs a new token (`grant token --reenroll`)',
);

/** The server's certificate did not verify against the pinned CA or the host name. */
export const PeerTlsError = createError<[string, string]>(
  'PEER_TLS_INVALID',
  '%s: the server certificate is not trusted: %s',
  502,
  'the server must present a certificate from the pinned CA that names this host; check the URL and the CA pin',
);

/** The answer did not fit the protocol: too large, not JSON, or failing its schema. */
export const PeerResponseInvalidError = createError<[string, string]>(
  'PEER_RESPONSE_INVALID',
  '%s: refused the answer: %s',
  502,
  'the peer runs an incompatible or misbehaving version; nothing from this answer was used',
);

/** The enrollment URL is not an https URL ending in /api/federation/v1/enroll/<token>. */
export const EnrollmentUrlInvalidError = createError<[string]>(
  'ENROLLMENT_URL_INVALID',
  'not an enrollment URL: %s',
  400,
  'paste the whole URL printed by `mosaic federation grant token` on the serving side: https://<host>:<port>/api/federation/v1/enroll/<token>',
);

/** The CA presented by the peer does not match the pin we were given. Nothing was sent. */
export const PinMismatchError = createError<[string, string]>(
  'PIN_MISMATCH',
  'the CA at %s presents pin %s, which is not the pin you were given; nothing was sent',
  400,
  'confirm the pin with the serving admin over a second channel; a mismatch may mean someone is in the middle',
);
