/**
 * @mosaic/gateway-server — the Mosaic Federation gateway: the mTLS federation listener, the
 * admin API, storage (SQLite or PostgreSQL), the embedded CA and the audit log.
 */
export { startGateway, type RunningGateway, type StartGatewayOptions, type GatewaySummary } from './gateway.js';
export { resolveConfig, type GatewayConfig, type GatewayOptions } from './config.js';
export { createLogger } from './logging.js';
export { openStorage, type Storage } from './storage/index.js';
export type { Tracing, TraceSpan } from './tracing.js';
export {
  migrateStorage,
  type MigrateStorageOptions,
  type MigrationReport,
  type MigrationSecret,
  type TableCounts,
  type MigratedTable,
} from './storage/migrate-storage.js';
