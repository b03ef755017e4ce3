/**
 * `pnpm bench:tui`: the audit tail under load, drawn by Ink into an in-memory 100×30 terminal.
 * - frame time with a full 10 000-row buffer (Ink's own render time per frame, and the whole
 *   flush → React → Ink frame as the event loop sees it);
 * - lag at 1 000 events/s for 5 s: how old the newest row on screen is when a frame is drawn.
 * `--quick` (for `pnpm bench --quick`): 50 frames and 1 s of load instead of 200 and 5 s.
 */
import { Writable } from 'node:stream';
import { render } from 'ink';
import type { AuditRow } from '@mosaic/federation-core';
import { App } from '../App.js';
import type { AdminApi } from '../lib/api.js';

class Screen extends Writable {
  columns = 100;
  rows = 30;
  // Not a TTY (Ink is told `interactive: true` instead): Ink hides the cursor of a TTY through
  // cli-cursor, which registers an exit hook that writes `\e[?25h` to the real stderr — a stray
  // escape in the bench's output when nothing here ever touched the real terminal.
  isTTY = false;
  override _write(_chunk: unknown, _enc: BufferEncoding, done: () => void) {
    done();
  }
}

let n = 0;
const emitted = new Map<string, number>();
function row(): AuditRow {
  n++;
  const id = `row-${String(n).padStart(9, '0')}`;
  emitted.set(id, performance.now());
  return {
    id,
    at: new Date().toISOString(),
    requestId: `req-${n}`,
    callerRequestId: null,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    grantId: '6b1f0000-0000-4000-8000-000000000001',
    peer: n % 7 === 0 ? 'lab' : 'home',
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: n % 3 === 0 ? 'search' : 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: n % 11 === 0 ? 'denied' : 'allowed',
    statusCode: n % 11 === 0 ? 403 : 200,
    rowsOut: n % 50,
    bytesOut: 900,
    latencyMs: 3 + (n % 9),
    prevHash: null,
  };
}

const quick = process.argv.includes('--quick');
const FRAMES = quick ? 50 : 200;
const LOAD_MS = quick ? 1000 : 5000;

const queue: AuditRow[] = [];
let wake: (() => void) | null = null;
const push = (rows: AuditRow[]) => {
  queue.push(...rows);
  wake?.();
};
const never = () => new Promise<never>(() => undefined);
const api = {
  baseUrl: 'http://127.0.0.1:8400',
  status: () => Promise.resolve({ name: 'bench' }),
  listPeers: () => Promise.resolve({ items: [] }),
  listGrants: () => Promise.resolve({ items: [] }),
  audit: () => Promise.resolve({ items: [] }),
  async *auditStream(options: { signal?: AbortSignal; onConnect?: () => void } = {}) {
    options.onConnect?.();
    while (!options.signal?.aborted) {
      while (queue.length > 0) yield queue.shift()!;
      await new Promise<void>((r) => (wake = r));
    }
  },
  getPeer: never,
  renewPeer: never,
  removePeer: never,
  previewPeer: never,
  addPeer: never,
  getGrant: never,
  updateGrant: never,
  revokeGrant: never,
  createToken: never,
  explainGrant: never,
} as unknown as AdminApi;

const renderTimes: number[] = [];
const lags: number[] = [];
let sampling = false;
const stdout = new Screen();
const stdin = Object.assign(new (await import('node:stream')).PassThrough(), { isTTY: true, setRawMode: () => undefined, ref: () => undefined, unref: () => undefined });
const instance = render(<App targets={[{ name: 'bench', baseUrl: api.baseUrl, source: 'bench' }]} clientFor={() => api} color={true} size={{ columns: 100, rows: 30 }} initialTab="Audit" pollMs={60_000} />, {
  stdout: stdout as unknown as NodeJS.WriteStream,
  stdin: stdin as unknown as NodeJS.ReadStream,
  interactive: true,
  patchConsole: false,
  exitOnCtrlC: false,
  maxFps: 30,
  onRender: ({ renderTime }) => {
    if (!sampling) return;
    renderTimes.push(renderTime);
    // the newest row drawn is the newest emitted before this flush: its age is the lag
    const newest = `row-${String(n).padStart(9, '0')}`;
    const t = emitted.get(newest);
    if (t !== undefined) lags.push(performance.now() - t);
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number) => `${x.toFixed(2)} ms`;

// 1. Fill the buffer: 10 000 rows (+500 to prove the ring drops the oldest).
push(Array.from({ length: 10_500 }, row));
await sleep(400);

// 2. Frame time with a full buffer: one new row per frame, 200 frames (50 with --quick).
sampling = true;
const frameWall: number[] = [];
for (let i = 0; i < FRAMES; i++) {
  const t0 = performance.now();
  push([row()]);
  const before = renderTimes.length;
  while (renderTimes.length === before) await sleep(1);
  frameWall.push(performance.now() - t0);
}
const frameRender = renderTimes.splice(0);
lags.length = 0;

// 3. 1 000 events/s for 5 s (1 s with --quick; a batch every 10 ms), lag of the newest row on screen.
const start = performance.now();
let sent = 0;
while (performance.now() - start < LOAD_MS) {
  const due = Math.floor(performance.now() - start) - sent;
  if (due > 0) {
    push(Array.from({ length: due }, row));
    sent += due;
  }
  await sleep(10);
}
await sleep(300);
sampling = false;
const rate = sent / ((performance.now() - start - 300) / 1000);
instance.unmount();
const heap = process.memoryUsage().heapUsed / 1024 / 1024;

const out = {
  bufferRows: 10_000,
  frame: { renders: frameRender.length, inkRenderP50: pct(frameRender, 50), inkRenderP99: pct(frameRender, 99), wallP50: pct(frameWall, 50), wallP99: pct(frameWall, 99) },
  load: { events: sent, eventsPerSecond: Math.round(rate), frames: renderTimes.length, lagP50: pct(lags, 50), lagP99: pct(lags, 99), lagMax: Math.max(...lags), renderP99: pct(renderTimes, 99) },
  heapMiB: Math.round(heap),
};
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
else {
  process.stdout.write(
    [
      `audit tail, 100×30, ${out.bufferRows} rows buffered (Node ${process.version})`,
      `  frame time        Ink render p50 ${f(out.frame.inkRenderP50)} · p99 ${f(out.frame.inkRenderP99)}; row in → frame out p50 ${f(out.frame.wallP50)} · p99 ${f(out.frame.wallP99)} (${out.frame.renders} frames)`,
      `  1 000 events/s    ${out.load.events} events in ${LOAD_MS / 1000} s (${out.load.eventsPerSecond}/s), ${out.load.frames} frames; lag of the newest row on screen p50 ${f(out.load.lagP50)} · p99 ${f(out.load.lagP99)} · max ${f(out.load.lagMax)}`,
      `  memory            heap ${out.heapMiB} MiB after ${n} rows (the ring keeps 10 000)`,
      '',
    ].join('\n'),
  );
}
process.exit(0);
