/**
 * The audit row's `queryHash`: HMAC-SHA-256 under a per-deployment audit key over the
 * canonical JSON of the request parameters, as 64 lowercase hex characters.
 *
 * Keyed, because a plain hash of a short query (`"salary"`) falls to a dictionary; with the
 * key an operator can still test "was this exact query made?" by hashing it themselves, and
 * equal requests give equal hashes so repeated reads show up. The request body itself is
 * never stored. Plain hex without a prefix: the column holds only this one kind of value, and
 * rotating the audit key is a deployment event recorded outside the rows.
 *
 * Only `node:crypto`: no zod.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** The minimum audit key length: 32 bytes, SHA-256's output size (RFC 2104 §3: shorter keys weaken the MAC). */
export const AUDIT_KEY_MIN_BYTES = 32;

/**
 * The parameters that identify a request: exactly what the caller asked for, after routing
 * (verb and resource from the path, the rest from the body). Absent fields are left out, so
 * `{limit: undefined}` and `{}` hash alike.
 */
export interface QueryHashParams {
  readonly verb: string;
  readonly resource?: string | null | undefined;
  readonly id?: string | undefined;
  readonly query?: string | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
  /** Any further parameter a future verb adds (plain JSON values only). */
  readonly [extra: string]: unknown;
}

/** A 32+ byte secret, or a `KeyObject` of type `secret`. */
export type AuditKey = Uint8Array | KeyObject;

function checkKey(key: AuditKey): void {
  if (key instanceof Uint8Array) {
    if (key.byteLength < AUDIT_KEY_MIN_BYTES) {
      throw new RangeError(`audit key must be at least ${AUDIT_KEY_MIN_BYTES} bytes`);
    }
  } else if (key.type !== 'secret' || (key.symmetricKeySize ?? 0) < AUDIT_KEY_MIN_BYTES) {
    throw new RangeError(`audit key must be a secret KeyObject of at least ${AUDIT_KEY_MIN_BYTES} bytes`);
  }
}

/**
 * `queryHash` of an audit row: lowercase hex HMAC-SHA-256(auditKey, canonicalJson(params)).
 *
 * @example
 * queryHash(auditKey, { verb: 'search', resource: 'notes', query: 'salary', limit: 20 })
 */
export function queryHash(auditKey: AuditKey, params: QueryHashParams): string {
  checkKey(auditKey);
  return createHmac('sha256', auditKey).update(canonicalJson(params), 'utf8').digest('hex');
}

/** 64 lowercase hex characters: the form of `queryHash` and of SHA-256 digests on the wire. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/**
 * SHA-256 (lowercase hex) of the canonical JSON of `value` — e.g. an audit row including its
 * `prevHash`, which makes the row chain a hash chain.
 */
export function canonicalSha256(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
