/**
 * `pnpm bench --quick --json` as a smoke test: the bench runs end to end (real gateways as
 * child processes, a real PostgreSQL, real TLS) and its one JSON document carries every figure
 * docs/benchmarks.md promises, with no audit row lost. No assertion on timings: those belong to
 * the bench, on a quiet machine, not to a test on a shared one. Runs the build
 * (`packages/gateway-server/dist/bench/main.js`), as `pnpm bench` does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { postgresAvailability } from '../test-support/postgres.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const MAIN = join(ROOT, 'packages/gateway-server/dist/bench/main.js');
const CI = process.env.CI === 'true';

/** The top-level numbers issue 10 names, and the figures behind them. */
const REQUIRED_NUMBERS = [
  'verb_keepalive_ratio',
  'handshake_ratio',
  'enroll_median_ms',
  'audit_rows_lost',
  'audit_slow_store_p99_ratio',
  'cli_version_ratio',
  'tui_frame_ms',
  'verb_keepalive_p99_ms',
  'audit_sustained_req_per_s',
  'audit_since_1h_ms',
] as const;

function missingTool(): string | undefined {
  const pg = postgresAvailability();
  if (!pg.available) return `PostgreSQL not installed (${pg.reason})`;
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) return 'openssl not on PATH';
  return undefined;
}

async function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, stdout, stderr };
}

const missing = missingTool();

describe('pnpm bench', () => {
  if (missing !== undefined && !CI) {
    it.skip(`skipped: ${missing}`, () => undefined);
    return;
  }

  it('--quick --json prints one JSON document with every figure, targets judged, and no audit row lost', async () => {
    if (missing !== undefined) throw new Error(`${missing}; CI must run the bench smoke test`);
    expect(existsSync(MAIN), `${MAIN} is missing: run \`pnpm build\``).toBe(true);
    const { code, stdout, stderr } = await runBench(['--quick', '--json']);
    expect(code, stderr.slice(-2000)).toBe(0);
    // stdout is exactly one JSON document; progress went to stderr
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(stderr).toContain('bench: ');
    for (const key of REQUIRED_NUMBERS) {
      expect(typeof result[key], key).toBe('number');
      expect(Number.isFinite(result[key]), key).toBe(true);
    }
    expect(result.audit_rows_lost).toBe(0);
    // CPU per request needs procfs (Linux): a number there, null elsewhere
    for (const key of ['verb_keepalive_cpu_ratio', 'handshake_cpu_ratio']) {
      if (process.platform === 'linux') expect(typeof result[key], key).toBe('number');
      else expect(result[key], key).toBeNull();
    }
    const targets = result.targets as Record<string, { value: unknown; target: unknown; met: unknown }>;
    for (const key of ['verb_keepalive_ratio', 'handshake_ratio', 'enroll_median_ms', 'audit_rows_lost', 'audit_slow_store_p99_ratio', 'cli_version_ratio', 'audit_since_1h_ms']) {
      expect(typeof targets[key]?.met, key).toBe('boolean');
      expect(targets[key]?.value, key).toBe(result[key]);
    }
    // the raw figures behind the ratios
    const keepalive = result.verb_keepalive as { rows: number; gateway: { reqPerSec: number; answered: number }; bare: { reqPerSec: number; answered: number } };
    expect(keepalive.rows).toBe(20);
    expect(keepalive.gateway.answered).toBeGreaterThan(0);
    expect(keepalive.bare.answered).toBeGreaterThan(0);
    // the design floor answered too, and wrote one audit row per answer before it
    const floor = result.verb_keepalive_floor as { gateway: { answered: number }; floor: { answered: number; non2xx: number; failed: number } };
    expect(floor.floor.answered).toBeGreaterThan(0);
    expect(floor.floor.non2xx + floor.floor.failed).toBe(0);
    expect(typeof result.verb_keepalive_floor_ratio).toBe('number');
    const audit = result.audit as { sustained: { acknowledged: number; rows: number; lost: number }; kill9: { acknowledged: number; lost: number }; slowStore: { slowdown: number }; spoolAppend: { p50Us: number } };
    expect(audit.sustained.acknowledged).toBeGreaterThan(0);
    expect(audit.sustained.rows).toBe(audit.sustained.acknowledged);
    expect(audit.kill9.acknowledged).toBeGreaterThan(0);
    expect(audit.kill9.lost).toBe(0);
    expect(audit.slowStore.slowdown).toBeGreaterThanOrEqual(10);
    expect(typeof audit.spoolAppend.p50Us).toBe('number');
    const scale = result.scale as { auditSince: { rowsReturned: number; plan: string[] } };
    expect(scale.auditSince.rowsReturned).toBe(100);
  }, 120_000);

  it('refuses an unknown option with one line saying what to use', async () => {
    const { code, stdout, stderr } = await runBench(['--fast']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe('bench: unknown option --fast; use --json and/or --quick');
  });
});
