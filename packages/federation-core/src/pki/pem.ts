/**
 * PEM (RFC 7468) in strict form. Node's base64 decoder skips characters it does not know, so a
 * lenient reader would accept a corrupted block and hand back different bytes; this one checks
 * the alphabet and that the body re-encodes to itself.
 */

/** A PEM problem; callers wrap it in their own typed error. */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

/** One decoded block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]{1,64})-----/g;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/** True when `text` looks like PEM rather than DER/other text. */
export function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

/**
 * All blocks in `text`. Only whitespace may sit between blocks: explanatory text is how a
 * second, unnoticed certificate or a bag of attributes slips into a file.
 */
export function decodePemBlocks(text: string, maxBytes = 1024 * 1024): PemBlock[] {
  if (text.length > maxBytes) throw new PemError(`the PEM text is larger than ${maxBytes} bytes`);
  const blocks: PemBlock[] = [];
  let last = 0;
  for (const match of text.matchAll(BLOCK)) {
    const [whole, label, body, endLabel] = match as unknown as [string, string, string, string];
    if (text.slice(last, match.index).trim() !== '') throw new PemError('there is text outside the PEM block(s)');
    last = match.index + whole.length;
    if (label !== endLabel) throw new PemError(`BEGIN ${label} is closed by END ${endLabel}`);
    if (body.includes(':')) throw new PemError(`the ${label} block carries headers (an encrypted or legacy PEM), which are not supported`);
    const lines = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    for (const line of lines) if (!BASE64_LINE.test(line)) throw new PemError(`the ${label} block body is not base64`);
    const b64 = lines.join('');
    const der = Buffer.from(b64, 'base64');
    if (der.length === 0 || der.toString('base64') !== b64) throw new PemError(`the ${label} block body is not canonical base64`);
    blocks.push({ label, der: new Uint8Array(der.buffer, der.byteOffset, der.byteLength) });
  }
  if (text.slice(last).trim() !== '') throw new PemError(blocks.length ? 'there is text after the PEM block(s)' : 'no PEM block found');
  return blocks;
}

/** Exactly one block whose label is one of `labels`. */
export function decodePemBlock(text: string, labels: readonly string[], maxBytes?: number): PemBlock {
  const blocks = decodePemBlocks(text, maxBytes);
  if (blocks.length !== 1) throw new PemError(`expected one ${labels.join(' or ')} PEM block, found ${blocks.length}`);
  const block = blocks[0]!;
  if (!labels.includes(block.label)) throw new PemError(`expected a ${labels.join(' or ')} block, found ${block.label}`);
  return block;
}

/** The DER of exactly one block whose label is one of `labels`. */
export function decodePem(text: string, labels: readonly string[], maxBytes?: number): Uint8Array {
  return decodePemBlock(text, labels, maxBytes).der;
}

/** Encode DER as PEM with 64-character lines and a trailing newline. */
export function encodePem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
