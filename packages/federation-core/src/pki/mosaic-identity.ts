/**
 * Who a peer certificate speaks for: the grant and the subject user in its two Mosaic
 * extensions. The gateway calls this once per TLS socket — after OpenSSL has verified the chain
 * (`socket.authorized`) — so it reads the DER directly: no PEM, no ASN.1 object graph.
 */
import type { RawExtension } from './certificate-der.js';
import { loadCertificate, type CertificateInput } from './certificate-input.js';
import { ExtCriticalError, ExtDuplicateError, ExtMissingError } from './errors.js';
import { mosaicExtensions, type MosaicExtensionDefinition, type MosaicExtensionRegistry } from './mosaic-extensions.js';

/** The identity a Mosaic client certificate carries. */
export interface MosaicIdentity {
  /** The grant UUID (lowercase). */
  readonly grantId: string;
  /** The serving side's user on whose behalf the peer reads. */
  readonly subjectUserId: string;
}

/**
 * Read `{ grantId, subjectUserId }` from a certificate (PEM, DER, Node or @peculiar/x509 object).
 * Each way it can be wrong has its own 401 code: EXT_MISSING, EXT_DUPLICATE, EXT_CRITICAL,
 * EXT_BAD_TAG, EXT_BAD_LENGTH, EXT_TRAILING_BYTES, EXT_BAD_UTF8, EXT_EMPTY, EXT_TOO_LONG,
 * EXT_BAD_GRANT_ID; a certificate that is not strict DER is CERT_MALFORMED.
 *
 * It does not verify the certificate: call it only on a chain OpenSSL accepted, or after
 * {@link verifyClientCertificate}.
 * @example
 * server.on('secureConnection', (socket) => {
 *   if (!socket.authorized) return socket.destroy();
 *   const identity = decodeMosaicIdentity(socket.getPeerCertificate(true).raw);
 * });
 */
export function decodeMosaicIdentity(cert: CertificateInput, registry: MosaicExtensionRegistry = mosaicExtensions): MosaicIdentity {
  return mosaicIdentityFromExtensions(loadCertificate(cert).extensions, registry);
}

/** The identity from an already-parsed extension list (see {@link decodeMosaicIdentity}). */
export function mosaicIdentityFromExtensions(extensions: readonly RawExtension[], registry: MosaicExtensionRegistry = mosaicExtensions): MosaicIdentity {
  let grantExt: RawExtension | undefined;
  let subjectExt: RawExtension | undefined;
  let grantDef: MosaicExtensionDefinition | undefined;
  let subjectDef: MosaicExtensionDefinition | undefined;
  // Duplicates are judged before any value: with two values there is no right one to report on.
  for (const ext of extensions) {
    const def = registry.get(ext.oid);
    if (!def) continue;
    if ((def.field === 'grantId' ? grantExt : subjectExt) !== undefined) throw new ExtDuplicateError(def.label, def.oid);
    if (def.field === 'grantId') [grantExt, grantDef] = [ext, def];
    else [subjectExt, subjectDef] = [ext, def];
  }
  const grantId = grantExt && grantDef ? decodeOne(grantExt, grantDef) : undefined;
  const subjectUserId = subjectExt && subjectDef ? decodeOne(subjectExt, subjectDef) : undefined;
  if (grantId === undefined) throw missing(registry, 'grantId');
  if (subjectUserId === undefined) throw missing(registry, 'subjectUserId');
  return { grantId, subjectUserId };
}

function decodeOne(ext: RawExtension, def: MosaicExtensionDefinition): string {
  if (ext.critical) throw new ExtCriticalError(def.label, def.oid);
  return def.decodeValue(ext.value);
}

function missing(registry: MosaicExtensionRegistry, field: MosaicExtensionDefinition['field']): Error {
  const def = registry.definitions().find((d) => d.field === field);
  /* v8 ignore next -- a registry without a definition for a field is a programming error */
  if (!def) return new TypeError(`the registry has no definition for ${field}`);
  return new ExtMissingError(def.label, def.oid);
}
