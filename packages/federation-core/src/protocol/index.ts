/**
 * protocol — the wire: zod schemas of every body on both listeners and the admin API (with
 * their inferred types), the error-code catalogue, identifier formats (`x-request-id`,
 * `traceparent`, CA pins, enrollment URLs), canonical JSON and the keyed query hash.
 *
 * This barrel loads zod. Code that must stay light (the admin client, `mosaic --version`)
 * imports types from `./types.js` with `import type`, and the zod-free modules directly:
 * `./codes.js`, `./constants.js`, `./identifiers.js`, `./canonical-json.js`, `./query-hash.js`.
 */
export * from './codes.js';
export * from './constants.js';
export * from './identifiers.js';
export * from './canonical-json.js';
export * from './query-hash.js';
export * from './issues.js';
export * from './common.js';
export * from './federation.js';
export * from './admin.js';
export * from './audit.js';
export * from './seed.js';
export type * from './types.js';
