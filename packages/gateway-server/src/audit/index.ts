/**
 * The durable audit pipeline: the local spool (written before an answer leaves), the shipper
 * to the main store, the per-spool hash chain and its verifier, the live tail and the admin
 * routes. {@link openAuditPipeline} wires the first three together.
 */
import type { Logger } from 'pino';
import type { Storage } from '../storage/index.js';
import { AuditShipper, type AuditTail, type AuditShipperOptions } from './shipper.js';
import { AuditSpool, type AuditDurability } from './spool.js';

export { AuditSpool, AUDIT_SPOOL_FILE_NAME, type AuditDurability, type AuditSpoolOptions, type SpoolEntry, type SpooledRow, type SpoolStatus } from './spool.js';
export { AuditShipper, AuditTail, type AuditShipperOptions, type ShipperCounters } from './shipper.js';
export { verifyChain, ChainVerifier, rowDigest, toWireRow, type ChainBreak, type ChainVerdict, type ChainRow, type ChainOptions } from './chain.js';
export { registerAuditRoutes, verifyStoredChains, resolveSince, type AuditRouteDeps, type AuditRoutes, type SpoolVerdict } from './routes.js';
export { auditUnavailable, isAuditUnavailable } from './errors.js';
export { archiveAudit, archiveCutoff, type ArchiveOptions, type ArchiveOutcome } from './archive.js';

export interface AuditPipeline {
  readonly spool: AuditSpool;
  readonly shipper: AuditShipper;
  readonly tail: AuditTail;
  /** Ship what is left (up to `flushTimeoutMs`), stop, close the spool. */
  close(flushTimeoutMs?: number): Promise<void>;
}

/** Open the spool in `dataDir` and start shipping it to `storage`. */
export function openAuditPipeline(options: {
  dataDir: string;
  storage: Pick<Storage, 'audit'>;
  durability?: AuditDurability | undefined;
  maxSizeBytes?: number | undefined;
  logger?: Logger | undefined;
  shipper?: Omit<AuditShipperOptions, 'spool' | 'storage' | 'logger'> | undefined;
}): AuditPipeline {
  const spool = AuditSpool.open({ dataDir: options.dataDir, durability: options.durability, maxSizeBytes: options.maxSizeBytes, logger: options.logger });
  const shipper = new AuditShipper({ ...options.shipper, spool, storage: options.storage, logger: options.logger });
  shipper.start();
  return {
    spool,
    shipper,
    tail: shipper.tail,
    close: async (flushTimeoutMs = 4_000) => {
      try {
        await shipper.flush(flushTimeoutMs);
      } catch (err) {
        options.logger?.warn({ err: (err as Error).message, backlog: spool.backlog() }, 'audit rows left in the spool; they ship on the next start');
      }
      await shipper.stop();
      await spool.close();
    },
  };
}
