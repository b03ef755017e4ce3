/**
 * @mosaic/federation-core — the engine every other Mosaic package stands on.
 * Import `reflect-metadata` before @peculiar/x509: the pki modules do it for you.
 */
export * from './errors.js';
