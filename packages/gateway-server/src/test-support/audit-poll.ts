/** Audit rows ship from the spool asynchronously: poll until the rows a test waits for are visible. */
import type { AuditRow } from '@mosaic/federation-core';
import type { AdminClient, AuditFilter } from '@mosaic/federation-core/admin-client';

/**
 * Poll `GET /api/admin/audit` (with `filter`) until `match` selects at least `count` rows, or
 * `timeoutMs` passes; returns the matching rows (the test asserts on them).
 */
export async function waitForAuditRows(
  admin: AdminClient,
  match: (row: AuditRow) => boolean,
  options: { count?: number; filter?: AuditFilter; timeoutMs?: number } = {},
): Promise<AuditRow[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  for (;;) {
    const { items } = await admin.audit({ limit: 10_000, ...options.filter });
    const rows = items.filter(match);
    if (rows.length >= (options.count ?? 1) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 25));
  }
}
