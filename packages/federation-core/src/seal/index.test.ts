import { describe, expect, it } from 'vitest';
import * as sealing from './index.js';

describe('seal barrel', () => {
  it('offers the envelope, the master secret and key derivation, and the error classes', () => {
    for (const name of ['parseMasterSecret', 'generateMasterSecret', 'deriveKey', 'keyId', 'SealKey', 'createKeyring', 'seal', 'sealText', 'open', 'openText', 'reseal', 'readSealHeader']) {
      expect(typeof (sealing as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(sealing.SealTampered.code).toBe('SEAL_TAMPERED');
  });

  it('keeps the raw primitives internal', () => {
    for (const name of ['aesGcmEncrypt', 'aesGcmDecrypt', 'hkdf', 'sealKeyMaterial']) expect(name in sealing, name).toBe(false);
  });

  it('works end to end from the barrel alone', () => {
    const key = sealing.SealKey.fromMaster(sealing.parseMasterSecret(sealing.generateMasterSecret()));
    const stored = sealing.sealText(key, 'pem', { recordId: 'ca:key' });
    expect(sealing.openText(sealing.createKeyring([key]), stored, { recordId: 'ca:key' }).toString()).toBe('pem');
  });
});
