/**
 * @mosaic/federation-core — the engine every other Mosaic package stands on: PKI and the
 * Mosaic certificate extensions, scope enforcement, sealing, the wire protocol, rate limits,
 * and the federation (mTLS) client. The admin API client lives on its own light subpath,
 * `@mosaic/federation-core/admin-client`.
 */
export * from './errors.js';
export * from './pki/index.js';
export * from './scope/index.js';
export * from './protocol/index.js';
export * from './seal/index.js';
export * from './limits/index.js';
export * from './client/index.js';
