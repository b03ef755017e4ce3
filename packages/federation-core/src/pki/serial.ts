/**
 * Certificate serial numbers: 16 random bytes, positive, fixed length, and their canonical
 * text form (lowercase hex of the magnitude) used for storage and revocation lists.
 */
import { defaultCrypto, type WebCrypto } from './x509.js';

/** Serial length in bytes. CA/B Forum asks for ≥ 64 bits of CSPRNG output; this gives 127. */
export const SERIAL_BYTES = 16;

/**
 * A random serial as lowercase hex (32 digits). The top bit is cleared so the INTEGER is
 * positive without a pad byte, and a zero first byte is redrawn so the DER encoding is minimal
 * and every serial has the same length (OpenSSL refuses non-minimal INTEGER padding).
 */
export function randomSerialHex(crypto: WebCrypto = defaultCrypto): string {
  const bytes = new Uint8Array(SERIAL_BYTES);
  do {
    crypto.getRandomValues(bytes);
    bytes[0] = bytes[0]! & 0x7f;
  } while (bytes[0] === 0);
  return Buffer.from(bytes).toString('hex');
}

/**
 * Canonical serial text: lowercase hex, even length, no leading zero bytes, `:` separators
 * (as OpenSSL prints them) removed. Returns undefined for anything that is not a positive
 * serial of at most 20 bytes (RFC 5280 §4.1.2.2).
 */
export function normaliseSerialHex(input: string): string | undefined {
  const hex = input.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) return undefined;
  let trimmed = hex.replace(/^0+/, '');
  if (trimmed === '') return undefined;
  if (trimmed.length % 2 === 1) trimmed = `0${trimmed}`;
  if (trimmed.length > 40) return undefined;
  return trimmed;
}
