import { describe, expect, it, beforeAll } from 'vitest';
import { buildCrl } from './crl-build.js';
import { isIntermediateOf, leafOfChain, parseCrlUnderRoot, splitCertificates, verifyCertificateChain } from './chain.js';
import { makeClientCert, makeTestCa, makeTwoTierCa, type TestTierCa } from '../test-support/pki.js';

let root: TestTierCa;
let intermediate: TestTierCa;
let rotated: TestTierCa;
let foreign: { root: TestTierCa; intermediate: TestTierCa };

beforeAll(async () => {
  ({ root, intermediate } = await makeTwoTierCa({ commonName: 'Step' }));
  ({ intermediate: rotated } = await makeTwoTierCa({ commonName: 'Step', root }));
  foreign = await makeTwoTierCa({ commonName: 'Other' });
});

describe('verifyCertificateChain (a leaf with its intermediates, under a pinned root)', () => {
  it('verifies leaf + intermediate against the root, and returns the chain without the root', async () => {
    const leaf = await makeClientCert(intermediate);
    const chain = verifyCertificateChain(`${leaf.certPem}${intermediate.certPem}${root.certPem}`, root.certPem, { purpose: 'client' });
    expect(chain.serialHex).toBe(leaf.serialHex);
    expect(chain.intermediates).toEqual([intermediate.certPem]);
    expect(chain.chainPem).toBe(`${leaf.certPem}${intermediate.certPem}`);
    expect(leafOfChain(chain.chainPem)).toBe(leaf.certPem);
    expect(splitCertificates(chain.chainPem)).toHaveLength(2);
  });

  it('a leaf of a rotated intermediate under the same root verifies too', async () => {
    const leaf = await makeClientCert(rotated);
    expect(verifyCertificateChain(`${leaf.certPem}${rotated.certPem}`, root.certPem).serialHex).toBe(leaf.serialHex);
  });

  it('a leaf the root signed directly (embedded mode) verifies alone', async () => {
    const ca = await makeTestCa();
    const leaf = await makeClientCert(ca);
    expect(verifyCertificateChain(leaf.certPem, ca.certPem).intermediates).toEqual([]);
  });

  it('refuses a leaf without its intermediate, and a chain through an intermediate of another root', async () => {
    const leaf = await makeClientCert(intermediate);
    expect(() => verifyCertificateChain(leaf.certPem, root.certPem)).toThrow(expect.objectContaining({ code: 'CERT_UNTRUSTED' }));
    const impostor = await makeClientCert(foreign.intermediate);
    expect(() => verifyCertificateChain(`${impostor.certPem}${foreign.intermediate.certPem}`, root.certPem)).toThrow(expect.objectContaining({ code: 'CERT_UNTRUSTED' }));
    // the foreign chain handed with the foreign root in it changes nothing
    expect(() => verifyCertificateChain(`${impostor.certPem}${foreign.intermediate.certPem}${foreign.root.certPem}`, root.certPem)).toThrow(expect.objectContaining({ code: 'CERT_UNTRUSTED' }));
    expect(() => verifyCertificateChain('not a pem', root.certPem)).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }));
  });

  it('isIntermediateOf: a CA the root signed; not the root itself, not a leaf, not another root’s', async () => {
    const leaf = await makeClientCert(intermediate);
    expect(isIntermediateOf(intermediate.certPem, root.certPem)).toBe(true);
    expect(isIntermediateOf(root.certPem, root.certPem)).toBe(false);
    expect(isIntermediateOf(leaf.certPem, intermediate.certPem)).toBe(false);
    expect(isIntermediateOf(foreign.intermediate.certPem, root.certPem)).toBe(false);
  });
});

describe('parseCrlUnderRoot', () => {
  const crlBy = async (signer: TestTierCa) => (await buildCrl({ ca: signer, revoked: [{ serialHex: '0a', revokedAt: new Date() }], crlNumber: 3 })).der;

  it('accepts a CRL signed by the root, or by an intermediate the root signed', async () => {
    expect(parseCrlUnderRoot(await crlBy(intermediate), root.certPem, [intermediate.certPem]).revokedSerials.has('0a')).toBe(true);
    expect(parseCrlUnderRoot(await crlBy(rotated), root.certPem, [intermediate.certPem, rotated.certPem]).crlNumber).toBe(3n);
    const ca = await makeTestCa();
    expect(parseCrlUnderRoot(await crlBy(ca), ca.certPem).crlNumber).toBe(3n);
  });

  it('refuses a CRL signed by a key that does not chain to the root, even when its signer is offered', async () => {
    await expect(async () => parseCrlUnderRoot(await crlBy(foreign.intermediate), root.certPem, [foreign.intermediate.certPem, intermediate.certPem])).rejects.toMatchObject({ code: 'CRL_INVALID' });
    // without any candidate, the root's own verdict stands
    await expect(async () => parseCrlUnderRoot(await crlBy(intermediate), root.certPem)).rejects.toThrow();
  });
});
