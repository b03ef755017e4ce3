/**
 * Names the CA writes into certificates: the subject CN and the server's DNS/IP SANs.
 *
 * Names are built from typed values, never by parsing a `CN=…` string: a peer name such as
 * `home, O=Evil` or `"#0c03…"` would otherwise be read as extra RDNs or a raw hex value.
 */
import { isIP } from 'node:net';
import type { MosaicErrorClass } from '../errors.js';
import { Oid } from './oids.js';
import { isWellFormedUnicode } from './utf8-string.js';
import { x509 } from './x509.js';

/** X.520 ub-common-name. */
export const MAX_COMMON_NAME_LENGTH = 64;

// C0, DEL, C1 controls and bidirectional overrides: they rewrite what a person sees in
// `openssl x509 -text`, logs and the TUI.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * Check a value destined for a subject CN and return it unchanged.
 * @throws `errorClass` naming `field` and the rule broken
 */
export function validateCommonName(value: unknown, field: string, errorClass: MosaicErrorClass<string[]>): string {
  if (typeof value !== 'string' || value.length === 0) throw new errorClass(`${field} must be a non-empty string`);
  if (!isWellFormedUnicode(value)) throw new errorClass(`${field} contains an unpaired surrogate`);
  if ([...value].length > MAX_COMMON_NAME_LENGTH) throw new errorClass(`${field} is longer than ${MAX_COMMON_NAME_LENGTH} characters`);
  if (UNSAFE_CHARACTERS.test(value)) throw new errorClass(`${field} contains control or bidirectional-override characters`);
  if (value.trim() !== value) throw new errorClass(`${field} has leading or trailing whitespace`);
  return value;
}

/** A Name holding exactly one RDN: CN=`commonName` as a UTF8String. */
export function commonNameSubject(commonName: string): x509.Name {
  return new x509.Name([{ [Oid.commonName]: [{ utf8String: commonName }] }]);
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Normalise a DNS name for a server certificate SAN: lowercase, LDH labels, no wildcard, no
 * trailing dot, at most 253 characters.
 * @throws `errorClass` naming the rule broken
 */
export function normaliseDnsName(value: unknown, errorClass: MosaicErrorClass<string[]>): string {
  if (typeof value !== 'string' || value.length === 0) throw new errorClass('a DNS name must be a non-empty string');
  const name = value.toLowerCase();
  if (name.length > 253) throw new errorClass('a DNS name is longer than 253 characters');
  if (name.includes('*')) throw new errorClass('wildcard DNS names are not issued');
  if (isIP(name) !== 0) throw new errorClass('an IP address was given as a DNS name; pass it in ipAddresses');
  if (!name.split('.').every((label) => LABEL.test(label))) {
    throw new errorClass('a DNS name must be letters, digits and hyphens in dot-separated labels (IDNs in their xn-- form)');
  }
  return name;
}

/**
 * Check an IP address for a SAN and return it in canonical text form.
 * @throws `errorClass` when it is not an IPv4 or IPv6 address
 */
export function normaliseIpAddress(value: unknown, errorClass: MosaicErrorClass<string[]>): string {
  if (typeof value !== 'string' || isIP(value) === 0) throw new errorClass('an IP address SAN must be an IPv4 or IPv6 address');
  if (isIP(value) === 4) return value;
  try {
    // URL parsing canonicalises IPv6 (compression, case) and rejects zone ids.
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    throw new errorClass('an IPv6 SAN must not carry a zone id');
  }
}
