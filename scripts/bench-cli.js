// `pnpm bench:cli` — how much the `mosaic` CLI costs on top of Node's own start-up, in one run:
// medians of N runs of `mosaic --version` and of `mosaic federation grant list --json` (against a
// local gateway this script starts, with a few grants) each against `node -e 0`. Targets
// (issue 6): --version ≤ 1.5 × node, grant list ≤ 2.5 × node. A measurement, not a test: it
// always exits 0 unless it could not measure. Run `pnpm build` first.
//
//   node scripts/bench-cli.js [--runs 21] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout, clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 21;
if (!Number.isInteger(runs) || runs < 3) {
  process.stderr.write('bench-cli: --runs takes a whole number of at least 3\n');
  process.exit(2);
}
if (!existsSync(BIN)) {
  process.stderr.write(`bench-cli: ${BIN} is missing: run \`pnpm build\` first\n`);
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'mosaic-bench-'));
const dataDir = join(home, 'bench');
const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'share'), NO_COLOR: '1' };
for (const k of ['MOSAIC_ADMIN_TOKEN', 'MOSAIC_GATEWAY_URL', 'MOSAIC_DATA_DIR']) delete env[k];
const log = (s) => {
  if (!json) process.stderr.write(`${s}\n`);
};

function startGateway() {
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', 'bench', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start in 30 s: ${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ child, summary: JSON.parse(out.split('\n')[0]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`the gateway exited with ${code}: ${err}`)));
  });
}

async function admin(adminUrl, method, path, body) {
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const res = await globalThis.fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Wall time of one run, in ms; a failed run is fatal (it would measure an error path). */
function timeOnce(argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

let gateway;
try {
  log(`bench-cli: starting a local gateway in ${home}`);
  gateway = await startGateway();
  const { adminUrl } = gateway.summary;
  await admin(adminUrl, 'POST', '/api/admin/seed', { users: [{ id: 'alice', name: 'Alice' }] });
  for (const peer of ['home', 'lab', 'ci', 'edge', 'backup']) {
    await admin(adminUrl, 'POST', '/api/admin/grants', { subjectUserId: 'alice', peerName: peer, scope: { resources: ['tasks', 'notes'] } });
  }
  const cases = {
    node: ['-e', '0'],
    version: [BIN, '--version'],
    grantList: [BIN, 'federation', 'grant', 'list', '--json', '--data-dir', dataDir],
  };
  // Warm the file cache, then interleave the cases so drift (CPU frequency, other load) hits all alike.
  for (const argv of Object.values(cases)) for (let i = 0; i < 2; i++) timeOnce(argv);
  const samples = { node: [], version: [], grantList: [] };
  log(`bench-cli: ${runs} runs of each`);
  for (let i = 0; i < runs; i++) for (const [name, argv] of Object.entries(cases)) samples[name].push(timeOnce(argv));
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v))]));
  const ratios = { version: round(medians.version / medians.node, 2), grantList: round(medians.grantList / medians.node, 2) };
  const targets = { version: 1.5, grantList: 2.5 };
  const result = {
    runs,
    node: process.version,
    medianMs: medians,
    ratios,
    targets,
    withinTargets: { version: ratios.version <= targets.version, grantList: ratios.grantList <= targets.grantList },
  };
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const mark = (ok) => (ok ? '✔' : '✖ over target');
    process.stdout.write(
      [
        `mosaic CLI start-up, median of ${runs} runs (Node ${process.version})`,
        `  node -e 0                                    ${String(medians.node).padStart(7)} ms`,
        `  mosaic --version                             ${String(medians.version).padStart(7)} ms   ${String(ratios.version).padStart(5)} × node  (target ≤ ${targets.version})  ${mark(result.withinTargets.version)}`,
        `  mosaic federation grant list --json (5 grants) ${String(medians.grantList).padStart(5)} ms   ${String(ratios.grantList).padStart(5)} × node  (target ≤ ${targets.grantList})  ${mark(result.withinTargets.grantList)}`,
        '',
      ].join('\n'),
    );
  }
} catch (err) {
  process.stderr.write(`bench-cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  if (gateway && gateway.child.exitCode === null) {
    const exited = new Promise((r) => gateway.child.once('exit', r));
    gateway.child.kill('SIGTERM');
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
}
