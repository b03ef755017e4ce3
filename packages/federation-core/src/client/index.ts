export * from './breaker.js';
export * from './cache.js';
export * from './errors.js';
export * from './federation-client.js';
export * from './enroll.js';
export * from './crl.js';
