/**
 * A minimal DER writer for the structures this module builds itself (CRLs, extension values)
 * where byte-exact control matters more than a general ASN.1 schema.
 */
import { Tag } from './der.js';

/** Encode a DER length (short form below 128, minimal long form above). */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('invalid DER length');
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

/** Concatenate byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One element from a tag and its already-encoded content. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const value = concatBytes(content);
  return concatBytes([Uint8Array.of(tag), encodeLength(value.length), value]);
}

/** SEQUENCE of the given encodings. */
export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, ...items);
}

/** SET OF the given encodings, sorted as DER requires (X.690 §11.6). */
export function setOf(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => Buffer.compare(a, b));
  return tlv(Tag.SET, ...sorted);
}

/** INTEGER from a non-negative bigint, minimally encoded. */
export function integer(value: bigint | number): Uint8Array {
  let n = BigInt(value);
  if (n < 0n) throw new RangeError('only non-negative INTEGERs are written here');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}

/** INTEGER from big-endian magnitude bytes (a serial number), minimally encoded and positive. */
export function integerFromMagnitude(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return tlv(Tag.INTEGER, Uint8Array.of(0));
  return trimmed[0]! & 0x80 ? tlv(Tag.INTEGER, Uint8Array.of(0), trimmed) : tlv(Tag.INTEGER, trimmed);
}

/** ENUMERATED with a small non-negative value. */
export function enumerated(value: number): Uint8Array {
  const body = integer(value);
  return tlv(Tag.ENUMERATED, body.subarray(2));
}

/** BOOLEAN TRUE (DER omits FALSE when it is the default, so FALSE is never written here). */
export function booleanTrue(): Uint8Array {
  return Uint8Array.of(Tag.BOOLEAN, 1, 0xff);
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.OCTET_STRING, bytes);
}

/** BIT STRING with no unused bits (signatures, keys). */
export function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.BIT_STRING, Uint8Array.of(0), bytes);
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  if (!/^[012]\.(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/.test(dotted)) throw new RangeError(`not a dotted OID: ${dotted}`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [a0, a1, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  if (a0 < 2n && a1 >= 40n) throw new RangeError(`second arc of ${dotted} must be below 40`);
  const bytes: number[] = [];
  for (const arc of [a0 * 40n + a1, ...rest]) {
    const chunk: number[] = [];
    let n = arc;
    do {
      chunk.unshift(Number(n & 0x7fn) | (chunk.length ? 0x80 : 0));
      n >>= 7n;
    } while (n > 0n);
    bytes.push(...chunk);
  }
  return tlv(Tag.OID, Uint8Array.from(bytes));
}

/** Explicitly tagged [n] wrapper. */
export function explicit(n: number, inner: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, inner);
}

/**
 * A certificate/CRL time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
 * Sub-second precision is dropped, as X.509 has none.
 */
export function time(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const tail = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year <= 2049) return tlv(Tag.UTC_TIME, Buffer.from(`${pad(year % 100)}${tail}`, 'latin1'));
  if (year < 0 || year > 9999) throw new RangeError('year outside 0000–9999');
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(`${pad(year, 4)}${tail}`, 'latin1'));
}
