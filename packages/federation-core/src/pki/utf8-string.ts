/**
 * Strict DER UTF8String (tag 0x0c): the value of both Mosaic extensions.
 *
 * The seeds read these values with `value.slice(2)`, which silently mis-reads any length past
 * 127 and accepts whatever tag and trailing garbage come along. Here every rule of DER is
 * checked and each failure says which one, so a 401 can tell the operator what was wrong.
 */
import { encodeLength } from './der-writer.js';
import { DerError, readTlv, Tag } from './der.js';

/** Why a byte string is not an acceptable UTF8String. */
export type Utf8StringFailure =
  | { readonly reason: 'bad-tag'; readonly detail: string }
  | { readonly reason: 'bad-length'; readonly detail: string }
  | { readonly reason: 'trailing-bytes'; readonly count: number }
  | { readonly reason: 'bad-utf8' }
  | { readonly reason: 'empty' }
  | { readonly reason: 'too-long'; readonly length: number; readonly max: number };

/** Outcome of {@link decodeUtf8String}: a value, or why there is none. */
export type Utf8StringResult = { readonly ok: true; readonly value: string } | ({ readonly ok: false } & Utf8StringFailure);

// fatal: a lone surrogate, an overlong form or a truncated sequence is an error, not U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Decode `der` as exactly one non-empty DER UTF8String of at most `maxBytes` content bytes.
 * Returns a result rather than throwing: this runs once per TLS socket, and the caller turns a
 * failure into its own typed error.
 */
export function decodeUtf8String(der: Uint8Array, maxBytes: number): Utf8StringResult {
  if (der.length === 0) return { ok: false, reason: 'bad-tag', detail: 'the value is empty, no tag' };
  if (der[0] !== Tag.UTF8_STRING) {
    return { ok: false, reason: 'bad-tag', detail: `tag 0x${der[0]!.toString(16).padStart(2, '0')}, expected 0x0c` };
  }
  let end: number;
  let valueStart: number;
  try {
    ({ valueStart, end } = readTlv(der, 0, der.length));
  } catch (err) {
    /* v8 ignore next -- readTlv only throws DerError; the guard keeps a bug from becoming a silent pass */
    if (!(err instanceof DerError)) throw err;
    return { ok: false, reason: 'bad-length', detail: err.message };
  }
  if (end !== der.length) return { ok: false, reason: 'trailing-bytes', count: der.length - end };
  const length = end - valueStart;
  if (length === 0) return { ok: false, reason: 'empty' };
  if (length > maxBytes) return { ok: false, reason: 'too-long', length, max: maxBytes };
  let value: string;
  try {
    value = decoder.decode(der.subarray(valueStart, end));
  } catch {
    return { ok: false, reason: 'bad-utf8' };
  }
  return { ok: true, value };
}

/** True when `s` has no unpaired surrogate (which TextEncoder would silently turn into U+FFFD). */
export function isWellFormedUnicode(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/**
 * Encode `value` as a DER UTF8String.
 * @throws RangeError when `value` is empty, not well-formed Unicode, or over `maxBytes` bytes
 */
export function encodeUtf8String(value: string, maxBytes: number): Uint8Array {
  if (value.length === 0) throw new RangeError('a UTF8String value must not be empty');
  if (!isWellFormedUnicode(value)) throw new RangeError('the value contains an unpaired surrogate, which UTF-8 cannot carry');
  const content = encoder.encode(value);
  if (content.length > maxBytes) throw new RangeError(`the value is ${content.length} UTF-8 bytes; the limit is ${maxBytes}`);
  const header = encodeLength(content.length);
  const out = new Uint8Array(1 + header.length + content.length);
  out[0] = Tag.UTF8_STRING;
  out.set(header, 1);
  out.set(content, 1 + header.length);
  return out;
}
