/** Shared helpers of the audit tests (not part of the gateway). */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpoolEntry } from './spool.js';

const dirs: string[] = [];

/** A fresh temp dir, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'mosaic-audit-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A federation decision as the serving side would record it. */
export function entry(overrides: Partial<SpoolEntry> = {}): SpoolEntry {
  return {
    requestId: 'req-1',
    callerRequestId: null,
    traceId: null,
    grantId: null,
    peer: 'bob',
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: 'allowed',
    statusCode: 200,
    rowsOut: 1,
    bytesOut: 10,
    latencyMs: 1.25,
    ...overrides,
  };
}

/** `node` arguments that run a TypeScript file of this repository (tsx loader, source exports). */
export function tsNodeArgs(file: string): string[] {
  // tsx is a root dev dependency; resolved from here, it is found in the workspace root.
  return ['--import', createRequire(import.meta.url).resolve('tsx/esm'), '--conditions=mosaic-source', file];
}

/** Median and 99th percentile of samples (ms). */
export function percentiles(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)] ?? 0, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0 };
}
