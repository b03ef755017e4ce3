/**
 * Where the gateway's master secret comes from (CONTRACT.md, Environment):
 *
 * 1. `MOSAIC_SECRET` when set — and it must be set in PostgreSQL mode, where every replica
 *    has to seal and open with the same secret.
 * 2. Embedded mode without it: a secret generated once and kept outside the data dir, so a
 *    copy of the data dir alone opens nothing — in the OS keyring (service `mosaic`, account
 *    `<gateway name>`) where one works, else in `$XDG_CONFIG_HOME/mosaic/<name>/secret`
 *    (0600, directory 0700). Later starts read it back from wherever it is.
 */
import { generateMasterSecret, parseMasterSecret, type MasterSecret } from '@mosaic/federation-core';
import { KeyringFailed, KeyringUnavailable, MasterSecretRequired, SecretArgumentInvalid, SecretInsideDataDir, SecretSourcesConflict } from './errors.js';
import { createOsKeyring, KEYRING_SERVICE, type SecretKeyring } from './keyring.js';
import { isInside, secretFilePath, validateGatewayName } from './paths.js';
import { createSecretFileOnce, readSecretFile } from './secret-file.js';

/** Options for {@link resolveMasterSecret}. */
export interface ResolveMasterSecretOptions {
  /** The gateway name: the keyring account and the directory under `$XDG_CONFIG_HOME/mosaic/`. */
  name: string;
  /** The data dir; the secret is never kept inside it. */
  dataDir: string;
  /** Default `process.env`: reads MOSAIC_SECRET, XDG_CONFIG_HOME, HOME. */
  env?: NodeJS.ProcessEnv;
  /** `postgres` requires MOSAIC_SECRET; `embedded` generates one when it is absent. */
  mode: 'embedded' | 'postgres';
  /** Default: the OS keyring through `@napi-rs/keyring` ({@link createOsKeyring}). */
  keyring?: SecretKeyring;
}

/** Where the master secret was found. */
export type MasterSecretSource = 'env' | 'keyring' | 'file';

/** A resolved master secret and where it lives. */
export interface ResolvedMasterSecret {
  secret: MasterSecret;
  source: MasterSecretSource;
  /** `keyring:mosaic/<name>` or the secret file's path; absent for `env`. */
  location?: string;
  /** True when this call generated the secret (first start). */
  created: boolean;
}

const ENV_NAME = 'MOSAIC_SECRET';

type KeyringRead = { state: 'value'; value: string } | { state: 'empty' } | { state: 'unavailable' };

function readKeyring(keyring: SecretKeyring, account: string): KeyringRead {
  try {
    const value = keyring.get(KEYRING_SERVICE, account);
    return value === null || value === '' ? { state: 'empty' } : { state: 'value', value };
  } catch (err) {
    if (KeyringUnavailable.is(err)) return { state: 'unavailable' };
    if (KeyringFailed.is(err)) throw err;
    throw new KeyringFailed(`${KEYRING_SERVICE}/${account}`, err instanceof Error ? err.message.split('\n')[0]! : String(err), { cause: err });
  }
}

/** Store a new secret in the keyring; the value read back wins (another start may have raced us). */
function storeInKeyring(keyring: SecretKeyring, account: string, value: string): string | undefined {
  const entry = `${KEYRING_SERVICE}/${account}`;
  try {
    keyring.set(KEYRING_SERVICE, account, value);
  } catch (err) {
    if (KeyringUnavailable.is(err)) return undefined;
    if (KeyringFailed.is(err)) throw err;
    throw new KeyringFailed(entry, err instanceof Error ? err.message.split('\n')[0]! : String(err), { cause: err });
  }
  const back = readKeyring(keyring, account);
  if (back.state !== 'value') {
    // It took the value and does not give it back: not a store to trust with the only copy.
    throw new KeyringFailed(entry, 'the keyring accepted the secret but did not return it on reading back');
  }
  return back.value;
}

/**
 * Resolve the master secret for a gateway.
 * @throws MASTER_SECRET_INVALID (MOSAIC_SECRET or the stored secret is not base64 of ≥ 32 random
 *   bytes), MASTER_SECRET_REQUIRED (postgres mode without MOSAIC_SECRET), SECRET_INSIDE_DATA_DIR,
 *   SECRET_FILE_INSECURE, SECRET_FILE_UNREADABLE, SECRET_SOURCES_CONFLICT, KEYRING_FAILED,
 *   GATEWAY_NAME_INVALID
 * @example
 * const { secret, source, location } = await resolveMasterSecret({ name: 'home', dataDir, mode: 'embedded' });
 * const sealKey = SealKey.fromMaster(secret);
 */
export async function resolveMasterSecret(options: ResolveMasterSecretOptions): Promise<ResolvedMasterSecret> {
  const env = options.env ?? process.env;
  if (options.mode !== 'embedded' && options.mode !== 'postgres') throw new SecretArgumentInvalid(`unknown storage mode ${String(options.mode)}`);

  const fromEnv = env[ENV_NAME];
  if (fromEnv !== undefined) {
    // Set but empty is refused too (by the parser): an empty value in a compose file is a mistake,
    // not a request to generate a secret nobody else has.
    return { secret: parseMasterSecret(fromEnv, ENV_NAME), source: 'env', created: false };
  }
  if (options.mode === 'postgres') throw new MasterSecretRequired();

  const name = validateGatewayName(options.name);
  const keyring = options.keyring ?? createOsKeyring();
  const filePath = secretFilePath(name, env);
  if (await isInside(filePath, options.dataDir)) throw new SecretInsideDataDir(filePath, options.dataDir);
  const keyringLocation = `keyring:${KEYRING_SERVICE}/${name}`;

  const inKeyring = readKeyring(keyring, name);
  const inFile = await readSecretFile(filePath);

  if (inKeyring.state === 'value' && inFile !== undefined) {
    if (inKeyring.value.trim() !== inFile.trim()) throw new SecretSourcesConflict(keyringLocation, filePath);
    return { secret: parseMasterSecret(inKeyring.value, keyringLocation), source: 'keyring', location: keyringLocation, created: false };
  }
  if (inKeyring.state === 'value') {
    return { secret: parseMasterSecret(inKeyring.value, keyringLocation), source: 'keyring', location: keyringLocation, created: false };
  }
  if (inFile !== undefined) {
    return { secret: parseMasterSecret(inFile, filePath), source: 'file', location: filePath, created: false };
  }

  // First start: generate once, keep it where it will be found again.
  const generated = generateMasterSecret();
  if (inKeyring.state === 'empty') {
    const stored = storeInKeyring(keyring, name, generated);
    if (stored !== undefined) {
      return { secret: parseMasterSecret(stored, keyringLocation), source: 'keyring', location: keyringLocation, created: stored === generated };
    }
  }
  const stored = await createSecretFileOnce(filePath, generated);
  return { secret: parseMasterSecret(stored, filePath), source: 'file', location: filePath, created: stored.trim() === generated };
}
