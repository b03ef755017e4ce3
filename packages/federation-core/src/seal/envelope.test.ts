import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MosaicError } from '../errors.js';
import {
  decodeSealedText,
  encodeSealedText,
  open,
  openText,
  readSealHeader,
  reseal,
  seal,
  SEALED_OVERHEAD_BYTES,
  sealText,
} from './envelope.js';
import { SealArgumentInvalid, SealMalformed, SealTampered, SealUnknownKey, SealVersionUnsupported } from './errors.js';
import { createKeyring, SealKey, type SealKeyring } from './keys.js';
import { generateMasterSecret, parseMasterSecret } from './secret.js';

const SEAL_CODES = ['SEAL_MALFORMED', 'SEAL_VERSION_UNSUPPORTED', 'SEAL_UNKNOWN_KEY', 'SEAL_TAMPERED'];

const key = SealKey.fromMaster(parseMasterSecret(generateMasterSecret()));
const otherKey = SealKey.fromMaster(parseMasterSecret(generateMasterSecret()));
const rid = { recordId: 'peer:home:key' };

/** The error `fn` throws; fails the test when it returns instead. */
function thrown(fn: () => unknown): MosaicError {
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MosaicError);
    return err as MosaicError;
  }
  throw new Error(`expected a refusal, got ${inspect(value)}`);
}

function pkcs8Pem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('seal/open', () => {
  it('round-trips any bytes and any well-formed string under any record id', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.string({ unit: 'binary', maxLength: 512 })),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
        (plaintext, recordId) => {
          const expected = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : Buffer.from(plaintext);
          const blob = seal(key, plaintext, { recordId });
          expect(blob.byteLength).toBe(SEALED_OVERHEAD_BYTES + expected.byteLength);
          expect(open(key, blob, { recordId }).equals(expected)).toBe(true);
          expect(openText(key, sealText(key, plaintext, { recordId }), { recordId }).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('lays out version, key id, nonce, ciphertext, tag', () => {
    const blob = seal(key, 'hello', rid);
    expect(blob[0]).toBe(1);
    expect(blob.subarray(1, 9).toString('hex')).toBe(key.id);
    expect(blob.byteLength).toBe(1 + 8 + 12 + 5 + 16);
    expect(readSealHeader(blob)).toEqual({ version: 1, keyId: key.id });
    expect(readSealHeader(encodeSealedText(blob))).toEqual({ version: 1, keyId: key.id });
  });

  it('draws a fresh nonce per seal: two seals of one plaintext differ', () => {
    const a = seal(key, 'same secret', rid);
    const b = seal(key, 'same secret', rid);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(9, 21).equals(b.subarray(9, 21))).toBe(false);
    const nonces = new Set(Array.from({ length: 1000 }, () => seal(key, '', rid).subarray(9, 21).toString('hex')));
    expect(nonces.size).toBe(1000);
  });

  it('refuses every single-bit flip of a sealed blob, with a seal error and no plaintext', () => {
    const blob = seal(key, 'QX', rid); // a marker no message or hex id can contain
    const ring = createKeyring([key, otherKey]);
    const codes = new Map<string, number>();
    for (let bit = 0; bit < blob.byteLength * 8; bit++) {
      const flipped = Buffer.from(blob);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const err = thrown(() => open(ring, flipped, rid));
      expect(SEAL_CODES).toContain(err.code);
      expect(JSON.stringify(err) + inspect(err)).not.toContain('QX');
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({
      SEAL_VERSION_UNSUPPORTED: 8, // the version byte
      SEAL_UNKNOWN_KEY: 64, // the key id
      SEAL_TAMPERED: (blob.byteLength - 9) * 8, // nonce, ciphertext, tag
    });
    expect(open(ring, blob, rid).toString()).toBe('QX');
  });

  it('refuses every truncation and any appended byte', () => {
    const blob = seal(key, 'a private key', rid);
    for (let length = 0; length < blob.byteLength; length++) {
      const err = thrown(() => open(key, blob.subarray(0, length), rid));
      expect(err.code).toBe(length < SEALED_OVERHEAD_BYTES ? 'SEAL_MALFORMED' : 'SEAL_TAMPERED');
    }
    expect(SealTampered.is(thrown(() => open(key, Buffer.concat([blob, Buffer.from([0])]), rid)))).toBe(true);
  });

  it('binds the record id: a blob swapped between two records fails to open', () => {
    const a = seal(key, 'key of peer a', { recordId: 'peer:a:key' });
    const b = seal(key, 'key of peer b', { recordId: 'peer:b:key' });
    expect(SealTampered.is(thrown(() => open(key, a, { recordId: 'peer:b:key' })))).toBe(true);
    expect(SealTampered.is(thrown(() => open(key, b, { recordId: 'peer:a:key' })))).toBe(true);
    // Nearby spellings are other records too.
    for (const recordId of ['peer:a:key ', 'Peer:a:key', 'peer:a:ke', 'peer:a:key\u0000']) {
      expect(SealTampered.is(thrown(() => open(key, a, { recordId })))).toBe(true);
    }
    expect(open(key, a, { recordId: 'peer:a:key' }).toString()).toBe('key of peer a');
  });

  it('refuses a record id that is empty, missing, not well-formed Unicode or too long', () => {
    const blob = seal(key, 'x', rid);
    for (const bad of [{ recordId: '' }, {}, undefined, { recordId: 42 }, { recordId: '\uD800' }, { recordId: 'a\uDC00b' }, { recordId: 'x'.repeat(1025) }]) {
      expect(SealArgumentInvalid.is(thrown(() => seal(key, 'x', bad as { recordId: string })))).toBe(true);
      expect(SealArgumentInvalid.is(thrown(() => open(key, blob, bad as { recordId: string })))).toBe(true);
    }
    // Lone surrogates would both become U+FFFD: without the check these two would collide.
    expect(Buffer.from('\uD800').equals(Buffer.from('\uDC00'))).toBe(true);
    expect(seal(key, 'x', { recordId: 'x'.repeat(1024) })).toBeInstanceOf(Buffer);
  });

  it('refuses a plaintext that is neither bytes nor a well-formed string', () => {
    expect(SealArgumentInvalid.is(thrown(() => seal(key, '\uD83D', rid)))).toBe(true);
    expect(SealArgumentInvalid.is(thrown(() => seal(key, 42 as unknown as string, rid)))).toBe(true);
    expect(SealArgumentInvalid.is(thrown(() => seal({ id: key.id } as SealKey, 'x', rid)))).toBe(true);
  });

  it('wrong key: SEAL_UNKNOWN_KEY naming both ids, never key bytes or plaintext', () => {
    const secret = 'TOP-SECRET-MARKER';
    const blob = seal(key, secret, rid);
    const err = thrown(() => open(otherKey, blob, rid));
    expect(SealUnknownKey.is(err)).toBe(true);
    expect(err.message).toContain(key.id);
    expect(err.message).toContain(otherKey.id);
    expect(err.remediation).toContain('MOSAIC_SECRET');
    const everything = JSON.stringify(err) + inspect(err) + String(err.remediation);
    expect(everything).not.toContain(secret);
  });

  it('wrong key with a forged key id (same id, other key bytes): SEAL_TAMPERED', () => {
    const blob = seal(key, 'x', rid);
    const impostor = SealKey.fromBytes(randomBytes(32));
    Object.defineProperty(impostor, 'id', { value: key.id });
    expect(SealTampered.is(thrown(() => open(impostor, blob, rid)))).toBe(true);
  });

  it('refuses other envelope versions', () => {
    const blob = seal(key, 'x', rid);
    for (const version of [0, 2, 255]) {
      const other = Buffer.from(blob);
      other[0] = version;
      const err = thrown(() => open(key, other, rid));
      expect(SealVersionUnsupported.is(err)).toBe(true);
      expect(err.message).toContain(String(version));
    }
  });

  it('refuses things that are not envelopes', () => {
    expect(SealMalformed.is(thrown(() => open(key, Buffer.alloc(0), rid)))).toBe(true);
    expect(SealMalformed.is(thrown(() => open(key, Buffer.from([1, 2, 3]), rid)))).toBe(true);
    expect(SealMalformed.is(thrown(() => open(key, 'AQID' as unknown as Uint8Array, rid)))).toBe(true);
    expect(SealMalformed.is(thrown(() => readSealHeader(42 as unknown as Uint8Array)))).toBe(true);
  });

  it('works on a Uint8Array view into a larger buffer', () => {
    const blob = seal(key, 'view', rid);
    const big = new Uint8Array(blob.byteLength + 10);
    big.set(blob, 5);
    const view = big.subarray(5, 5 + blob.byteLength);
    expect(open(key, view, rid).toString()).toBe('view');
    expect(openText(key, encodeSealedText(view), rid).toString()).toBe('view');
  });
});

describe('sealed PEM private keys', () => {
  it('contain no PEM text in binary or text form', () => {
    const pem = pkcs8Pem();
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const der = Buffer.from(body, 'base64');
    const blob = seal(key, pem, { recordId: 'ca:key' });
    const text = sealText(key, pem, { recordId: 'ca:key' });
    const forms = [blob.toString('latin1'), blob.toString('utf8'), text, Buffer.from(text, 'base64').toString('latin1')];
    for (const form of forms) {
      expect(form).not.toContain('-----BEGIN');
      expect(form).not.toContain('PRIVATE KEY');
      // No 12-character run of the PEM's base64 body (a chance match is ~2^-72 per place).
      for (let i = 0; i + 12 <= body.length; i += 4) expect(form).not.toContain(body.slice(i, i + 12));
    }
    // Nor any 8-byte run of the DER key.
    for (let i = 0; i + 8 <= der.byteLength; i++) expect(blob.includes(der.subarray(i, i + 8))).toBe(false);
    expect(openText(key, text, { recordId: 'ca:key' }).toString('utf8')).toBe(pem);
  });
});

describe('text form', () => {
  it('is standard padded base64 of the bytes, with surrounding whitespace tolerated', () => {
    const text = sealText(key, 'abc', rid);
    expect(text).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(decodeSealedText(text).byteLength).toBe(SEALED_OVERHEAD_BYTES + 3);
    expect(openText(key, `${text}\n`, rid).toString()).toBe('abc');
  });

  it('refuses anything but canonical base64', () => {
    const text = sealText(key, 'abc', rid); // 40 bytes: ends in '=='
    expect(text.endsWith('==')).toBe(true);
    for (const bad of [text.replace(/=+$/, ''), `${text.slice(0, 10)} ${text.slice(10)}`, `${text}!`, text.slice(0, -1), `=${text}`]) {
      expect(SealMalformed.is(thrown(() => openText(key, bad, rid)))).toBe(true);
    }
    expect(SealMalformed.is(thrown(() => decodeSealedText(7 as unknown as string)))).toBe(true);
    expect(SealMalformed.is(thrown(() => openText(key, '', rid)))).toBe(true);
  });

  it('refuses every single-character change of the text form', () => {
    const text = sealText(key, 'k', rid);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      const replacement = c === '=' ? 'A' : alphabet[(alphabet.indexOf(c) + 1) % 64]!;
      const err = thrown(() => openText(key, text.slice(0, i) + replacement + text.slice(i + 1), rid));
      expect(SEAL_CODES).toContain(err.code);
    }
  });
});

describe('rotation', () => {
  const oldKey = SealKey.fromMaster(parseMasterSecret(generateMasterSecret()));
  const newKey = SealKey.fromMaster(parseMasterSecret(generateMasterSecret()));

  it('opens blobs of every key in the keyring and reseals them under the current key', () => {
    const ring = createKeyring([newKey, oldKey]);
    const oldBlob = seal(oldKey, 'ca key pem', { recordId: 'ca:key' });
    const oldText = sealText(oldKey, 'peer key pem', { recordId: 'peer:x:key' });
    expect(open(ring, oldBlob, { recordId: 'ca:key' }).toString()).toBe('ca key pem');

    const newBlob = reseal(ring, newKey, oldBlob, { recordId: 'ca:key' });
    expect(readSealHeader(newBlob).keyId).toBe(newKey.id);
    expect(open(newKey, newBlob, { recordId: 'ca:key' }).toString()).toBe('ca key pem');

    const newText = reseal(ring, newKey, oldText, { recordId: 'peer:x:key' });
    expect(typeof newText).toBe('string');
    expect(readSealHeader(newText).keyId).toBe(newKey.id);
    expect(openText(newKey, newText, { recordId: 'peer:x:key' }).toString()).toBe('peer key pem');

    // Once the old key is gone, the old blob no longer opens — and says which key it needs.
    const err = thrown(() => open(createKeyring([newKey]), oldBlob, { recordId: 'ca:key' }));
    expect(SealUnknownKey.is(err)).toBe(true);
    expect(err.message).toContain(oldKey.id);
  });

  it('keeps the record binding through a reseal', () => {
    const blob = seal(oldKey, 'x', { recordId: 'a' });
    expect(SealTampered.is(thrown(() => reseal(createKeyring([oldKey]), newKey, blob, { recordId: 'b' })))).toBe(true);
  });

  it('refuses a keyring whose entry does not match its id, and things that are not keyrings', () => {
    const blob = seal(key, 'x', rid);
    const lying: SealKeyring = new Map([[key.id, otherKey]]);
    expect(SealArgumentInvalid.is(thrown(() => open(lying, blob, rid)))).toBe(true);
    expect(SealArgumentInvalid.is(thrown(() => open({} as SealKeyring, blob, rid)))).toBe(true);
    expect(SealUnknownKey.is(thrown(() => open(new Map(), blob, rid)))).toBe(true);
  });
});

describe('a data dir copied without the master secret (SECURITY.md case 32)', () => {
  it('opens nothing under a freshly generated secret', () => {
    const pem = pkcs8Pem();
    const stored = sealText(SealKey.fromMaster(parseMasterSecret(generateMasterSecret())), pem, { recordId: 'ca:key' });
    const thief = SealKey.fromMaster(parseMasterSecret(generateMasterSecret()));
    const err = thrown(() => openText(thief, stored, { recordId: 'ca:key' }));
    expect(err.code).toBe('SEAL_UNKNOWN_KEY');
    // Even with the key id forged to match, the tag check holds.
    Object.defineProperty(thief, 'id', { value: readSealHeader(stored).keyId });
    expect(thrown(() => openText(thief, stored, { recordId: 'ca:key' })).code).toBe('SEAL_TAMPERED');
  });
});
