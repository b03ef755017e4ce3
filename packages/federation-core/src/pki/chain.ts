/**
 * Chains under a pinned root: a CA whose root does not sign leaves itself (Step-CA: the root
 * signs an intermediate, the intermediate signs leaves and the CRL). The pin stays the root's;
 * an intermediate is trusted only after it is verified to be a CA certificate the root signed,
 * so rotating the intermediate under the same root changes nothing a peer stored.
 */
import { X509Certificate } from 'node:crypto';
import { decodeBasicConstraints, decodeKeyUsage, KeyUsageBit, singleExtension } from './ca-material.js';
import { certificateToDer, loadCertificate, type CertificateInput } from './certificate-input.js';
import { parseCrl, type ParsedCrl } from './crl-parse.js';
import { bytesEqual } from './der.js';
import { CertMalformedError, CertUntrustedError, CrlInvalidError } from './errors.js';
import { Oid } from './oids.js';
import { decodePemBlocks, encodePem, PemError } from './pem.js';
import { verifyClientCertificate, type VerifiedCertificate, type VerifyCertificateOptions } from './verify.js';

/** At most this many intermediates between a leaf and the root. */
export const MAX_INTERMEDIATES = 3;

/** A chain that verified: the leaf's facts, and the chain as PEM (leaf, then intermediates; never the root). */
export interface VerifiedChain extends VerifiedCertificate {
  /** The leaf alone (PEM). */
  readonly leafPem: string;
  /** The leaf followed by the intermediates that lead to the root (PEM), without the root. */
  readonly chainPem: string;
  /** The intermediates (PEM), leaf's issuer first. */
  readonly intermediates: readonly string[];
}

/**
 * The certificates of a PEM bundle, in order (DER).
 * @throws CERT_MALFORMED when the text is not one or more CERTIFICATE blocks
 */
export function splitCertificates(pem: string): Uint8Array[] {
  let blocks;
  try {
    blocks = decodePemBlocks(pem, 1024 * 1024);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof PemError)) throw err;
    throw new CertMalformedError(err.message);
  }
  if (blocks.length === 0) throw new CertMalformedError('no certificate found');
  for (const b of blocks) if (b.label !== 'CERTIFICATE') throw new CertMalformedError(`expected CERTIFICATE blocks, found ${b.label}`);
  return blocks.map((b) => b.der);
}

/** The first certificate of a PEM bundle (the leaf), as PEM. @throws CERT_MALFORMED */
export function leafOfChain(pem: string): string {
  return encodePem(splitCertificates(pem)[0]!, 'CERTIFICATE');
}

/**
 * True when `intermediate` is a CA certificate (basicConstraints CA, keyCertSign), valid at
 * `now`, issued and signed by `root`. A certificate byte-equal to the root is not an intermediate.
 */
export function isIntermediateOf(intermediate: CertificateInput, root: CertificateInput, now: Date = new Date()): boolean {
  try {
    const der = certificateToDer(intermediate);
    const rootDer = certificateToDer(root);
    if (bytesEqual(der, rootDer)) return false;
    const parsed = loadCertificate(der);
    if (now < parsed.notBefore || now > parsed.notAfter) return false;
    const bc = singleExtension(parsed, Oid.basicConstraints);
    if (bc === undefined || !decodeBasicConstraints(bc.value).ca) return false;
    const ku = singleExtension(parsed, Oid.keyUsage);
    if (ku !== undefined && !decodeKeyUsage(ku.value)(KeyUsageBit.keyCertSign)) return false;
    const node = new X509Certificate(Buffer.from(der));
    const rootNode = new X509Certificate(Buffer.from(rootDer));
    return node.checkIssued(rootNode) && node.verify(rootNode.publicKey);
  } catch {
    return false;
  }
}

/**
 * Verify a leaf presented with its chain (`chainPem`: the leaf first, then intermediates, in
 * any order; copies of the root are ignored) against the pinned `root`: either the root signed
 * the leaf, or one intermediate of the chain that {@link isIntermediateOf} the root did. The
 * leaf profile is checked as {@link verifyClientCertificate} does.
 * @throws the codes of verifyClientCertificate; CERT_UNTRUSTED when no path leads to the root
 * @example
 * const chain = verifyCertificateChain(answer.certChainPem, pinnedRootPem, { purpose: 'client' });
 */
export function verifyCertificateChain(chainPem: string, root: CertificateInput, options: VerifyCertificateOptions = {}): VerifiedChain {
  const now = options.now ?? new Date();
  const [leafDer, ...rest] = splitCertificates(chainPem);
  const rootDer = certificateToDer(root);
  const others = rest.filter((d) => !bytesEqual(d, rootDer));
  if (others.length > MAX_INTERMEDIATES) throw new CertMalformedError(`the chain holds more than ${MAX_INTERMEDIATES} intermediates`);
  const leafPem = encodePem(leafDer!, 'CERTIFICATE');
  const leafNode = new X509Certificate(Buffer.from(leafDer!));
  if (leafNode.checkIssued(new X509Certificate(Buffer.from(rootDer)))) {
    return { ...verifyClientCertificate(leafDer!, rootDer, options), leafPem, chainPem: leafPem, intermediates: [] };
  }
  for (const d of others) {
    const node = new X509Certificate(Buffer.from(d));
    if (!leafNode.checkIssued(node) || !isIntermediateOf(d, rootDer, now)) continue;
    const pem = encodePem(d, 'CERTIFICATE');
    return { ...verifyClientCertificate(leafDer!, d, options), leafPem, chainPem: `${leafPem}${pem}`, intermediates: [pem] };
  }
  throw new CertUntrustedError();
}

/**
 * Parse and verify a CRL signed by the pinned `root` itself or by one of `intermediates` that
 * {@link isIntermediateOf} the root. A CRL signed by a key that does not chain to the root is
 * refused.
 * @throws CRL_INVALID (and the codes of parseCrl)
 */
export function parseCrlUnderRoot(input: Uint8Array | string, root: CertificateInput, intermediates: readonly CertificateInput[] = [], now: Date = new Date()): ParsedCrl {
  let first: unknown;
  try {
    return parseCrl(input, root);
  } catch (err) {
    first = err;
  }
  for (const i of intermediates) {
    if (!isIntermediateOf(i, root, now)) continue;
    try {
      return parseCrl(input, i);
    } catch {
      // another intermediate may be the signer
    }
  }
  if (intermediates.length === 0) throw first;
  throw new CrlInvalidError('it is not signed by the pinned CA or by an intermediate that chains to it');
}
