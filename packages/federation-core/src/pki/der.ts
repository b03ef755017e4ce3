/**
 * A strict DER reader: definite lengths only, minimal length encodings, nothing past the end
 * of the enclosing element. It works on offsets into one buffer, so walking a certificate costs
 * no copies — the gateway reads the Mosaic identity from every TLS socket through it.
 *
 * It throws {@link DerError}, never a MosaicError: callers know what they were reading and map
 * the failure onto their own typed error.
 */

/** How a DER encoding was wrong. */
export type DerErrorKind =
  | 'truncated'
  | 'indefinite-length'
  | 'non-minimal-length'
  | 'length-too-large'
  | 'high-tag-number'
  | 'trailing-bytes'
  | 'unexpected-tag'
  | 'invalid-value';

/** A DER structure error; `kind` says which rule was broken. */
export class DerError extends Error {
  readonly kind: DerErrorKind;
  constructor(kind: DerErrorKind, message: string) {
    super(message);
    this.name = 'DerError';
    this.kind = kind;
  }
}

/** Universal tags used by X.509 (single-byte identifiers). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag number `n`, constructed (EXPLICIT) or primitive. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

/** One element: its tag and where its header, value and end lie in the buffer. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the identifier byte. */
  readonly start: number;
  /** Offset of the first value byte. */
  readonly valueStart: number;
  /** Offset just past the value. */
  readonly end: number;
}

/** The largest length we accept: 16 MiB is far beyond any certificate, CSR or CRL we handle. */
const MAX_LENGTH = 0x1000000;

/**
 * Read the element at `offset`, which must end at or before `limit`.
 * @throws DerError on any non-DER header
 */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset >= limit) throw new DerError('truncated', 'expected an element, found the end of the data');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number', `tag 0x${hex2(tag)} uses the multi-byte form, which X.509 never needs`);
  if (offset + 1 >= limit) throw new DerError('truncated', 'the length byte is missing');
  const first = buf[offset + 1]!;
  let length: number;
  let valueStart: number;
  if (first < 0x80) {
    length = first;
    valueStart = offset + 2;
  } else if (first === 0x80) {
    throw new DerError('indefinite-length', 'indefinite length (0x80) is BER, not DER');
  } else {
    const count = first & 0x7f;
    if (count > 4) throw new DerError('length-too-large', `a length of ${count} length bytes is beyond any sane size`);
    if (offset + 2 + count > limit) throw new DerError('truncated', 'the long-form length runs past the end of the data');
    if (buf[offset + 2] === 0) throw new DerError('non-minimal-length', 'the long-form length has a leading zero byte');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (length < 0x80) throw new DerError('non-minimal-length', `length ${length} is written in long form; DER requires the short form below 128`);
    valueStart = offset + 2 + count;
  }
  if (length > MAX_LENGTH) throw new DerError('length-too-large', `length ${length} is beyond the ${MAX_LENGTH}-byte limit`);
  const end = valueStart + length;
  if (end > limit) throw new DerError('truncated', `the length says ${length} bytes but only ${limit - valueStart} remain`);
  return { tag, start: offset, valueStart, end };
}

/** Read exactly one element spanning all of `buf`. */
export function readSingle(buf: Uint8Array, expectedTag?: number, what = 'the element'): Tlv {
  const tlv = readTlv(buf, 0, buf.length);
  if (expectedTag !== undefined && tlv.tag !== expectedTag) throw unexpectedTag(what, expectedTag, tlv.tag);
  if (tlv.end !== buf.length) throw new DerError('trailing-bytes', `${buf.length - tlv.end} byte(s) follow ${what}`);
  return tlv;
}

/** The value bytes of `tlv` (a view, not a copy). */
export function valueOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.valueStart, tlv.end);
}

/** The whole encoding of `tlv`, header included (a view, not a copy). */
export function encodingOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.start, tlv.end);
}

/** Walks the children of a constructed element in order. */
export class DerCursor {
  private pos: number;
  private readonly buf: Uint8Array;
  private readonly limit: number;

  /** Cursor over the value of `parent` (which must be constructed). */
  constructor(buf: Uint8Array, parent: Tlv) {
    if ((parent.tag & 0x20) === 0) throw new DerError('unexpected-tag', `tag 0x${hex2(parent.tag)} is primitive where a constructed element is required`);
    this.buf = buf;
    this.pos = parent.valueStart;
    this.limit = parent.end;
  }

  /** True while elements remain. */
  hasMore(): boolean {
    return this.pos < this.limit;
  }

  /** The tag of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.pos < this.limit ? this.buf[this.pos] : undefined;
  }

  /** Read the next element, requiring `tag` when given. */
  next(tag?: number, what = 'an element'): Tlv {
    if (this.pos >= this.limit) throw new DerError('truncated', `expected ${what}, found the end of its container`);
    const tlv = readTlv(this.buf, this.pos, this.limit);
    if (tag !== undefined && tlv.tag !== tag) throw unexpectedTag(what, tag, tlv.tag);
    this.pos = tlv.end;
    return tlv;
  }

  /** Read the next element only when it carries `tag`. */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.next(tag) : undefined;
  }

  /** Require that nothing is left in the container. */
  finish(what = 'the structure'): void {
    if (this.pos !== this.limit) throw new DerError('trailing-bytes', `${this.limit - this.pos} unexpected byte(s) at the end of ${what}`);
  }
}

function unexpectedTag(what: string, expected: number, got: number): DerError {
  return new DerError('unexpected-tag', `${what}: expected tag 0x${hex2(expected)}, found 0x${hex2(got)}`);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

// --- primitive decoders ------------------------------------------------------------------------

/** Decode an OBJECT IDENTIFIER value to dotted form, refusing non-minimal sub-identifiers. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new DerError('invalid-value', 'empty OBJECT IDENTIFIER');
  if (value[value.length - 1]! & 0x80) throw new DerError('invalid-value', 'OBJECT IDENTIFIER ends inside a sub-identifier');
  const arcs: string[] = [];
  let acc = 0n;
  let small = 0;
  let useBig = false;
  let startOfArc = true;
  for (const byte of value) {
    if (startOfArc && byte === 0x80) throw new DerError('invalid-value', 'OBJECT IDENTIFIER sub-identifier has a leading 0x80 (non-minimal)');
    startOfArc = false;
    // Stay on plain numbers until an arc outgrows 2^46 (UUID arcs under 2.25 do).
    if (!useBig && small >= 2 ** 46) {
      useBig = true;
      acc = BigInt(small);
    }
    if (useBig) acc = (acc << 7n) | BigInt(byte & 0x7f);
    else small = small * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      const arc = useBig ? acc : BigInt(small);
      if (arcs.length === 0) {
        if (arc < 40n) arcs.push('0', arc.toString());
        else if (arc < 80n) arcs.push('1', (arc - 40n).toString());
        else arcs.push('2', (arc - 80n).toString());
      } else {
        arcs.push(arc.toString());
      }
      acc = 0n;
      small = 0;
      useBig = false;
      startOfArc = true;
    }
  }
  return arcs.join('.');
}

/** Decode an INTEGER value, refusing empty and non-minimal encodings. */
export function decodeInteger(value: Uint8Array): bigint {
  if (value.length === 0) throw new DerError('invalid-value', 'empty INTEGER');
  if (value.length > 1) {
    const a = value[0]!;
    const b = value[1]!;
    if ((a === 0x00 && b < 0x80) || (a === 0xff && b >= 0x80)) throw new DerError('invalid-value', 'INTEGER is not minimally encoded');
  }
  let n = 0n;
  for (const byte of value) n = (n << 8n) | BigInt(byte);
  if (value[0]! & 0x80) n -= 1n << BigInt(value.length * 8);
  return n;
}

/** Decode a DER BOOLEAN value: exactly one byte, 0x00 or 0xff. */
export function decodeBoolean(value: Uint8Array): boolean {
  if (value.length !== 1 || (value[0] !== 0x00 && value[0] !== 0xff)) throw new DerError('invalid-value', 'BOOLEAN must be one byte, 0x00 or 0xff');
  return value[0] === 0xff;
}

/** A decoded BIT STRING. */
export interface BitString {
  readonly unusedBits: number;
  readonly bytes: Uint8Array;
}

/** Decode a BIT STRING value; DER requires the unused bits to be zero. */
export function decodeBitString(value: Uint8Array): BitString {
  if (value.length === 0) throw new DerError('invalid-value', 'BIT STRING lacks its unused-bits byte');
  const unusedBits = value[0]!;
  if (unusedBits > 7) throw new DerError('invalid-value', `BIT STRING claims ${unusedBits} unused bits`);
  const bytes = value.subarray(1);
  if (bytes.length === 0 && unusedBits !== 0) throw new DerError('invalid-value', 'empty BIT STRING with unused bits');
  if (unusedBits > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError('invalid-value', 'BIT STRING unused bits are not zero');
  }
  return { unusedBits, bytes };
}

/** True when bit `n` (0 = most significant bit of the first byte) is set. */
export function bitIsSet(bits: BitString, n: number): boolean {
  const byte = bits.bytes[n >> 3];
  return byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0;
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** Decode a UTCTime or GeneralizedTime as RFC 5280 §4.1.2.5 profiles them (Z, seconds, no fraction). */
export function decodeTime(tag: number, value: Uint8Array): Date {
  let text = '';
  for (const byte of value) text += String.fromCharCode(byte);
  let year: number;
  let rest: RegExpExecArray | null;
  if (tag === Tag.UTC_TIME) {
    rest = UTC_TIME.exec(text);
    if (!rest) throw new DerError('invalid-value', 'UTCTime is not YYMMDDHHMMSSZ');
    const yy = Number(rest[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tag === Tag.GENERALIZED_TIME) {
    rest = GENERALIZED_TIME.exec(text);
    if (!rest) throw new DerError('invalid-value', 'GeneralizedTime is not YYYYMMDDHHMMSSZ');
    year = Number(rest[1]);
  } else {
    throw new DerError('unexpected-tag', `expected UTCTime or GeneralizedTime, found tag 0x${hex2(tag)}`);
  }
  const [month, day, hour, minute, second] = [rest[2], rest[3], rest[4], rest[5], rest[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(ms);
  // Date.UTC rolls 31 February over into March; a calendar-exact round trip refuses that.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw new DerError('invalid-value', 'the time names a date that does not exist');
  }
  return date;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Byte-wise equality (not constant-time: for public data only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
