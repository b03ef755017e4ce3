import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SealArgumentInvalid } from './errors.js';
import { createKeyring, keyId, SealKey, sealKeyMaterial } from './keys.js';
import { deriveKey, generateMasterSecret, parseMasterSecret } from './secret.js';

describe('keyId', () => {
  it('is the first 8 bytes of SHA-256 over the key, lowercase hex', () => {
    const key = randomBytes(32);
    expect(keyId(key)).toBe(createHash('sha256').update(key).digest('hex').slice(0, 16));
    expect(keyId(key)).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('SealKey', () => {
  const master = parseMasterSecret(generateMasterSecret());

  it('fromMaster uses the seal purpose: its id is the id of deriveKey(master, "seal")', () => {
    const key = SealKey.fromMaster(master);
    expect(key.id).toBe(keyId(deriveKey(master, 'seal')));
    expect(key.id).not.toBe(keyId(deriveKey(master, 'audit-hmac')));
    expect(SealKey.fromMaster(master).id).toBe(key.id);
    expect(sealKeyMaterial(key).export().equals(deriveKey(master, 'seal'))).toBe(true);
  });

  it('fromBytes takes exactly 32 bytes and copies them', () => {
    const bytes = randomBytes(32);
    const key = SealKey.fromBytes(bytes);
    const id = keyId(bytes);
    bytes.fill(0);
    expect(key.id).toBe(id);
    expect(sealKeyMaterial(key).export().equals(Buffer.alloc(32))).toBe(false);
    for (const bad of [randomBytes(16), randomBytes(31), randomBytes(33), 'x'.repeat(32)]) {
      expect(() => SealKey.fromBytes(bad as Uint8Array)).toThrow(SealArgumentInvalid);
    }
  });

  it('shows its id, never its bytes', () => {
    const bytes = randomBytes(32);
    const key = SealKey.fromBytes(bytes);
    for (const shown of [String(key), JSON.stringify({ key }), inspect(key), inspect({ key }, { depth: 5, showHidden: true })]) {
      expect(shown).toContain(key.id);
      expect(shown).not.toContain(bytes.toString('hex').slice(0, 16));
      expect(shown).not.toContain(bytes.toString('base64').slice(0, 16));
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({ id: key.id });
  });
});

describe('createKeyring', () => {
  it('indexes keys by id and de-duplicates', () => {
    const a = SealKey.fromBytes(randomBytes(32));
    const b = SealKey.fromBytes(randomBytes(32));
    const ring = createKeyring([a, b, a]);
    expect([...ring.keys()]).toEqual([a.id, b.id]);
    expect(ring.get(b.id)).toBe(b);
  });

  it('refuses an empty keyring and values that are not keys', () => {
    expect(() => createKeyring([])).toThrow(SealArgumentInvalid);
    expect(() => createKeyring([randomBytes(32) as unknown as SealKey])).toThrow(SealArgumentInvalid);
  });
});
