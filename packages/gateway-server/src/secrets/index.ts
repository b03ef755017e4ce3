/**
 * secrets — the gateway's master secret (MOSAIC_SECRET, the OS keyring or a 0600 file kept
 * outside the data dir) and the data dir's permission check.
 *
 * @example
 * await checkDataDirPermissions(dataDir);
 * const { secret, source, location } = await resolveMasterSecret({ name, dataDir, mode: 'embedded' });
 */
export {
  resolveMasterSecret,
  type ResolveMasterSecretOptions,
  type ResolvedMasterSecret,
  type MasterSecretSource,
} from './resolve.js';
export { checkDataDirPermissions, DATA_DIR_MODE, type DataDirCheck } from './data-dir.js';
export {
  createOsKeyring,
  classifyKeyringError,
  KEYRING_SERVICE,
  type SecretKeyring,
  type OsKeyringOptions,
  type EntryConstructor,
} from './keyring.js';
export { secretFilePath, validateGatewayName, SECRET_FILE_NAME } from './paths.js';
export { SECRET_FILE_MODE, SECRET_DIR_MODE } from './secret-file.js';
export {
  MasterSecretInvalid,
  MasterSecretRequired,
  SecretFileInsecure,
  SecretFileUnreadable,
  SecretInsideDataDir,
  SecretSourcesConflict,
  KeyringUnavailable,
  KeyringFailed,
  GatewayNameInvalid,
  SecretArgumentInvalid,
  DataDirWorldWritable,
  DataDirInvalid,
} from './errors.js';
