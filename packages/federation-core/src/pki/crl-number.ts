/**
 * CRL numbers (RFC 5280 §5.2.3): a non-negative INTEGER of at most 20 octets that increases
 * with every CRL the CA publishes. The counter lives in the caller's store; this file holds the
 * rules, so two concurrent revokes that race on it fail loudly instead of publishing twice.
 */
import { CrlNumberNotIncreasingError, CrlParamsInvalidError } from './errors.js';

/** The largest CRL number: 20 octets, positive. */
export const MAX_CRL_NUMBER = (1n << 159n) - 1n;

/**
 * A CRL number as a bigint, validated.
 * @throws CRL_PARAMS_INVALID for a negative, fractional, unsafe or oversized number
 */
export function toCrlNumber(value: bigint | number): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new CrlParamsInvalidError('crlNumber must be a safe integer (or a bigint)');
  if (typeof value !== 'number' && typeof value !== 'bigint') throw new CrlParamsInvalidError('crlNumber must be a number or bigint');
  const n = BigInt(value);
  if (n < 0n) throw new CrlParamsInvalidError('crlNumber must not be negative');
  if (n > MAX_CRL_NUMBER) throw new CrlParamsInvalidError('crlNumber does not fit in 20 octets');
  return n;
}

/**
 * Refuse `next` unless it is strictly greater than `previous` (undefined/null: no CRL yet).
 * @throws CRL_NUMBER_NOT_INCREASING (409)
 * @example
 * const next = assertCrlNumberIncreases(state.lastCrlNumber, state.lastCrlNumber + 1n);
 */
export function assertCrlNumberIncreases(previous: bigint | number | null | undefined, next: bigint | number): bigint {
  const n = toCrlNumber(next);
  if (previous === null || previous === undefined) return n;
  const p = toCrlNumber(previous);
  if (n <= p) throw new CrlNumberNotIncreasingError(n.toString(), p.toString());
  return n;
}

/** The number after `previous` (1 for the first CRL). */
export function nextCrlNumber(previous: bigint | number | null | undefined): bigint {
  return previous === null || previous === undefined ? 1n : assertCrlNumberIncreases(previous, toCrlNumber(previous) + 1n);
}
