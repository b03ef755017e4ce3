/**
 * CA pins: `sha256:` + lowercase hex of SHA-256 over the certificate's SubjectPublicKeyInfo DER,
 * the kubeadm convention. Hashing the key rather than the certificate means re-issuing the CA
 * certificate with the same key keeps every pin valid. The SPKI bytes are taken verbatim from
 * the certificate, never re-encoded from a parsed key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { loadCertificate, type CertificateInput } from './certificate-input.js';
import { PinInvalidError } from './errors.js';

const PREFIX = 'sha256:';

/**
 * The pin of a certificate's key.
 * @throws CERT_MALFORMED when the input is not one strict DER certificate
 * @example
 * spkiPin(caPem)  // 'sha256:9f3a41c2…'
 */
export function spkiPin(cert: CertificateInput): string {
  return spkiPinFromSpki(loadCertificate(cert).spki);
}

/** The pin of SubjectPublicKeyInfo DER. */
export function spkiPinFromSpki(spkiDer: Uint8Array): string {
  return PREFIX + createHash('sha256').update(spkiDer).digest('hex');
}

/**
 * Canonical form of a pin typed or pasted by a person: `sha256:` prefix optional and
 * case-insensitive, hex in either case, `:` and spaces between digits ignored.
 * @throws PIN_INVALID saying what is wrong
 * @example
 * parsePin('SHA256:9F3A 41C2 …')  // 'sha256:9f3a41c2…'
 */
export function parsePin(input: string): string {
  if (typeof input !== 'string') throw new PinInvalidError('expected a string');
  let text = input.trim();
  if (text.toLowerCase().startsWith(PREFIX)) text = text.slice(PREFIX.length).trimStart();
  else if (/^[a-z0-9-]*[g-z-][a-z0-9-]*:/i.test(text)) throw new PinInvalidError('only sha256 pins are supported');
  if (!/^[0-9a-fA-F]([0-9a-fA-F]|[: ](?=[0-9a-fA-F]))*$/.test(text)) {
    throw new PinInvalidError('it may only hold hex digits, separated by single spaces or colons');
  }
  const hex = text.replace(/[: ]/g, '').toLowerCase();
  if (hex.length !== 64) throw new PinInvalidError(`it has ${hex.length} hex digits; a SHA-256 pin has 64`);
  return PREFIX + hex;
}

/**
 * Compare two pins (any accepted spelling) in constant time.
 * @throws PIN_INVALID when either is not a pin
 */
export function pinsEqual(a: string, b: string): boolean {
  const x = Buffer.from(parsePin(a).slice(PREFIX.length), 'hex');
  const y = Buffer.from(parsePin(b).slice(PREFIX.length), 'hex');
  return timingSafeEqual(x, y);
}

/**
 * A pin for people to compare by eye: upper-case groups of four, `groupsPerLine` per line.
 * @example
 * formatPin(pin)                        // '9F3A 41C2 87EC … (16 groups)'
 * formatPin(pin, { groupsPerLine: 8 })  // two lines of eight groups
 */
export function formatPin(pin: string, options: { groupsPerLine?: number } = {}): string {
  const hex = parsePin(pin).slice(PREFIX.length).toUpperCase();
  const groups = hex.match(/.{4}/g) ?? [];
  const perLine = options.groupsPerLine ?? groups.length;
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += perLine) lines.push(groups.slice(i, i + perLine).join(' '));
  return lines.join('\n');
}
