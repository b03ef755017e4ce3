/**
 * seal — secrets at rest: the master secret, HKDF-derived purpose keys, and the
 * AES-256-GCM envelope that keeps the CA key and peers' client keys sealed.
 *
 * @example
 * const master = parseMasterSecret(process.env.MOSAIC_SECRET ?? '');
 * const key = SealKey.fromMaster(master);
 * const stored = sealText(key, caKeyPem, { recordId: 'ca:key' });
 * const pem = openText(createKeyring([key]), stored, { recordId: 'ca:key' }).toString('utf8');
 */
export {
  MasterSecret,
  MASTER_SECRET_MIN_BYTES,
  KEY_PURPOSES,
  type KeyPurpose,
  type KeyLabel,
  parseMasterSecret,
  generateMasterSecret,
  keyLabel,
  deriveKey,
} from './secret.js';
export { KEY_ID_BYTES, keyId, SealKey, type SealKeyring, createKeyring } from './keys.js';
export {
  SEAL_VERSION,
  SEALED_OVERHEAD_BYTES,
  RECORD_ID_MAX_BYTES,
  type SealOptions,
  type SealHeader,
  seal,
  sealText,
  open,
  openText,
  reseal,
  readSealHeader,
  encodeSealedText,
  decodeSealedText,
} from './envelope.js';
export {
  MasterSecretInvalid,
  SealMalformed,
  SealVersionUnsupported,
  SealUnknownKey,
  SealTampered,
  SealParamsUnsupported,
  KdfParamsInvalid,
  SealArgumentInvalid,
} from './errors.js';
