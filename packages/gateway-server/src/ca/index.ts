/**
 * ca — the embedded CA: root created once and sealed under the master secret, peers' client
 * certificates, the federation listener's server certificate (renewed at 2/3 of its life), and
 * the published CRL (reissued at half-life and after every revoke).
 *
 * @example
 * const ca = await EmbeddedCa.open({ store, secret, name: 'home' });
 * const server = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org:8443' });
 * reply.type('application/pkix-crl').send(Buffer.from(await ca.currentCrl()));
 */
export {
  EmbeddedCa,
  SERVER_CERT_LIFETIME_DAYS,
  SERVER_CERT_RENEW_AT,
  issueOptionsFor,
  type OpenEmbeddedCaOptions,
  type IssueClientOptions,
  type ServerCertificateOptions,
  type ServerCertificate,
  type ServerCertIssueReason,
  type ServerCertRenewalOptions,
  type RenewalHandle,
} from './embedded-ca.js';
export type { GatewayCa } from './gateway-ca.js';
export { StepCa, stepCaSettingsFromEnv, STEP_CA_PBES2_ITERATIONS, type OpenStepCaOptions, type StepCaSettings } from './step-ca.js';
export { StepCaConfigInvalid, StepCaPasswordInvalid, StepCaUnreachable, StepCaRefused, StepCaRootMismatch, StepCaCertMismatch } from './step-ca-errors.js';
export { CrlPublisher, crlEntries, type CrlStatus, type PublishedCrl, type CrlPublisherOptions } from './crl.js';
export { serverNames, sameSans, publicUrlHost, LOCAL_SERVER_NAMES, type ServerNames } from './server-names.js';
export { rootCommonName } from './root.js';
export {
  CA_ROOT_RECORD_ID,
  CA_SERVER_RECORD_ID,
  type CaStateStore,
  type StoredCaState,
  type StoredServerCert,
  type RevokedSerial,
} from './store.js';
export { MemoryCaStateStore } from './memory-store.js';
export {
  CaSecretMismatch,
  CaKeyCorrupt,
  CaCertCorrupt,
  ServerNameInvalid,
  ServerCertContended,
  CrlUnavailable,
  CaArgumentInvalid,
} from './errors.js';
