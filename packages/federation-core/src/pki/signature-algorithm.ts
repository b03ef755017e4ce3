/**
 * Reading an AlgorithmIdentifier for a signature and checking a signature with OpenSSL (through
 * Node) over the exact bytes that were signed — never over a re-serialised structure.
 */
import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { DerCursor, DerError, decodeOid, Tag, valueOf, type Tlv } from './der.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './oids.js';

/** An AlgorithmIdentifier split into OID and raw parameters. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly parameters: { readonly tag: number; readonly value: Uint8Array } | undefined;
}

/** Parse the AlgorithmIdentifier SEQUENCE at `tlv`. */
export function parseAlgorithmIdentifier(buf: Uint8Array, tlv: Tlv): AlgorithmIdentifier {
  const cursor = new DerCursor(buf, tlv);
  const oid = decodeOid(valueOf(buf, cursor.next(Tag.OID, 'the algorithm OID')));
  let parameters: AlgorithmIdentifier['parameters'];
  if (cursor.hasMore()) {
    const p = cursor.next();
    parameters = { tag: p.tag, value: valueOf(buf, p) };
  }
  cursor.finish('the AlgorithmIdentifier');
  return { oid, parameters };
}

/**
 * The accepted signature algorithm named by `alg`, or undefined when it is outside policy.
 * @throws DerError when the parameters break RFC 5758 (ECDSA: absent) or RFC 4055 (RSA: NULL)
 */
export function acceptedSignatureAlgorithm(alg: AlgorithmIdentifier): SignatureAlgorithm | undefined {
  const known = ACCEPTED_SIGNATURE_ALGORITHMS.get(alg.oid);
  if (!known) return undefined;
  if (known.family === 'ecdsa' && alg.parameters) throw new DerError('invalid-value', 'ECDSA signature algorithms take no parameters');
  // RFC 4055 says NULL; some encoders omit it, and both forms are accepted by every verifier we talk to.
  if (known.family === 'rsa' && alg.parameters && !(alg.parameters.tag === Tag.NULL && alg.parameters.value.length === 0)) {
    throw new DerError('invalid-value', 'RSA PKCS#1 v1.5 signature parameters must be NULL');
  }
  return known;
}

/** True when `signature` (DER for ECDSA) over `data` verifies under `key` with `alg`. */
export function verifySignature(alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  const keyType = key.asymmetricKeyType;
  if ((alg.family === 'ecdsa' && keyType !== 'ec') || (alg.family === 'rsa' && keyType !== 'rsa')) return false;
  try {
    return nodeVerify(alg.hash, data, alg.family === 'ecdsa' ? { key, dsaEncoding: 'der' } : key, signature);
  } catch {
    // OpenSSL may throw on a malformed signature instead of returning false.
    /* v8 ignore next */
    return false;
  }
}
