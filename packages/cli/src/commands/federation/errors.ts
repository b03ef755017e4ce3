/**
 * The federation errors a person meets on `peer …` and `query …`, each said as one line of
 * what happened and one of what to do (UX.md "Errors a person meets"), whatever words the
 * gateway used. The code stays the gateway's (scripts match on it, `--json` carries it); the
 * exit code follows the contract, except a pin mismatch: a refusal (1), not a usage error.
 */
import { displayed } from '../../render/text.js';

/** An error said the CLI's way: code, one line, one hint, exit code. */
export class FederationCliError extends Error {
  readonly code: string;
  readonly status: number;
  readonly remediation: string | undefined;
  readonly exitCode: number | undefined;

  constructor(code: string, message: string, options: { remediation?: string | undefined; status?: number; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FederationCliError';
    this.code = code;
    this.status = options.status ?? 500;
    this.remediation = options.remediation;
    this.exitCode = options.exitCode;
  }
}

/** What the command knows that the error does not: the peer's local name, the host of an enrollment URL. */
export interface ErrorContext {
  peer?: string;
  host?: string;
}

interface Coded {
  code: string;
  message: string;
  status: number;
  remediation: string | undefined;
  details: unknown;
}

function coded(err: unknown): Coded | null {
  if (!(err instanceof Error)) return null;
  const e = err as Error & { code?: unknown; status?: unknown; statusCode?: unknown; remediation?: unknown; details?: unknown };
  if (typeof e.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(e.code)) return null;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  return { code: e.code, message: e.message, status, remediation: typeof e.remediation === 'string' ? e.remediation : undefined, details: e.details };
}

const NEW_TOKEN = 'ask the serving admin for a new token (`mosaic federation grant token <grant id>`, with --reenroll if the grant was enrolled before) and run peer add again';

/**
 * The one line and the hint for a federation error, by its code. `null` when the gateway's
 * own words stand (unknown codes, and codes whose message already says it well).
 */
export function explainCode(code: string, message: string, ctx: ErrorContext = {}, details?: unknown): { message: string; remediation?: string; exitCode?: number } | null {
  const peer = ctx.peer === undefined ? undefined : displayed(ctx.peer);
  const who = peer ?? 'the peer';
  const host = ctx.host === undefined ? 'the serving gateway' : displayed(ctx.host);
  switch (code) {
    case 'PIN_MISMATCH': {
      const presented = /sha256:[0-9a-f]{64}/.exec(message)?.[0];
      return {
        message: `the CA at ${host} presents another key pin${presented === undefined ? '' : ` (${presented})`} than the one you gave: nothing was sent, nothing was stored, the token is unused`,
        remediation: 'confirm the pin with the serving admin over a second channel (phone, chat); a mismatch may mean someone is in the middle',
        exitCode: 1,
      };
    }
    case 'TOKEN_USED':
      return { message: 'the enrollment token was already used (each token is good for one peer add): nothing was stored', remediation: NEW_TOKEN };
    case 'TOKEN_EXPIRED':
      return { message: 'the enrollment token has expired (tokens live 15 minutes at most): nothing was stored', remediation: NEW_TOKEN };
    case 'TOKEN_UNKNOWN':
      return { message: `${host} does not know this enrollment token (mistyped, cut when copied, or replaced by a newer token for the same grant): nothing was stored`, remediation: NEW_TOKEN };
    case 'GRANT_NOT_ENROLLABLE':
      return {
        message: 'the grant behind this token cannot be enrolled: it is revoked or expired, or it is active and the token was not made for re-enrollment',
        remediation: 'ask the serving admin for `mosaic federation grant token <grant id> --reenroll`, or for a new grant',
      };
    case 'PEER_REFUSED_CERT':
      return {
        message: `${peer === undefined ? '' : `${peer}: `}the gateway refused our certificate (revoked, expired, or issued by another CA)`,
        remediation: `mosaic federation peer inspect ${peer ?? '<name>'}   — then ask ${peer === undefined ? 'its' : `${peer}'s`} admin for a new enrollment token`,
      };
    case 'PEER_UNREACHABLE':
      return { message, remediation: `is ${who === 'the peer' ? "the peer's" : `${who}'s`} gateway running, and reachable from this gateway (not only from your machine)? \`mosaic federation status\` shows the last error` };
    case 'PEER_TLS_INVALID':
      return { message, remediation: 'the serving gateway must present a certificate from the pinned CA that names the host in the URL; check the URL and the pin with its admin' };
    case 'CIRCUIT_OPEN':
      return { message, remediation: `${who} failed repeatedly; calls resume after the cooldown. \`mosaic federation status\` shows the last error` };
    case 'PEER_NOT_FOUND':
      return { message, remediation: '`mosaic federation peer list` shows the peers of this gateway' };
    case 'RENEWAL_NOT_DUE':
      return {
        message: `renewal${peer === undefined ? '' : ` of ${peer}`} is not due yet: the serving side renews only after 2/3 of the certificate's lifetime`,
        remediation: `\`mosaic federation peer needs-renewal ${peer ?? '<name>'}\` tells when; the gateway renews by itself once it is due`,
      };
    case 'PEER_ERROR': {
      const remote = (details as { remoteCode?: unknown } | undefined)?.remoteCode;
      if (remote === 'GRANT_REVOKED' || remote === 'GRANT_EXPIRED' || remote === 'GRANT_NOT_FOUND') {
        return { message, remediation: 'the serving side no longer honours that grant; ask its admin for a new grant and token' };
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * `err` said the CLI's way when its code is one a person meets here; anything else is returned
 * as it is (the top-level handler says it).
 * @example throw explainFederationError(err, { peer: 'work' })
 */
export function explainFederationError(err: unknown, ctx: ErrorContext = {}): unknown {
  const c = coded(err);
  if (c === null) return err;
  const said = explainCode(c.code, c.message, ctx, c.details);
  if (said === null) return err;
  return new FederationCliError(c.code, said.message, {
    remediation: said.remediation ?? c.remediation,
    status: c.status,
    ...(said.exitCode === undefined ? {} : { exitCode: said.exitCode }),
    cause: err,
  });
}

/** Run `fn`, saying its federation errors the CLI's way. */
export async function explained<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explainFederationError(err, ctx);
  }
}
