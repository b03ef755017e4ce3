/**
 * PKI micro-benchmark: a plain script, run after the build with
 *
 *   node packages/federation-core/dist/bench/core.bench.js [iterations]
 *
 * It prints median and p95 of the operations the gateway performs per enrollment (keygen + CSR
 * on the requesting side, parse + issue on the serving side) and per TLS socket (identity
 * decode), with `openssl req -new -newkey ec` as a whole process for reference. Numbers only:
 * no assertion depends on them.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  createCsr,
  createRootCa,
  decodeMosaicIdentity,
  generateKeyPair,
  issueClientCertificate,
  parseCsr,
  spkiPin,
  verifyClientCertificate,
} from '../pki/index.js';

interface Row {
  name: string;
  samples: number[];
}

const iterations = Math.max(10, Number(process.argv[2] ?? process.env.MOSAIC_BENCH_ITERATIONS ?? 300) || 300);
const opensslIterations = Math.min(iterations, 100);

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

async function measure(name: string, n: number, fn: () => unknown): Promise<Row> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(); // warm-up: JIT, lazy imports
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return { name, samples };
}

function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

function format(rows: Row[]): string {
  const header = ['operation', 'n', 'median ms', 'p95 ms', 'mean ms', 'ops/s (median)'];
  const body = rows.map((r) => {
    const sorted = [...r.samples].sort((a, b) => a - b);
    const median = percentile(sorted, 50);
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    return [r.name, String(sorted.length), median.toFixed(3), percentile(sorted, 95).toFixed(3), mean.toFixed(3), Math.round(1000 / median).toString()];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

const ca = await createRootCa({ commonName: 'Bench CA' });
const keys = await generateKeyPair();
const csrPem = await createCsr({ keys, commonName: 'bench' });
const parsedCsr = parseCsr(csrPem);
const grantId = randomUUID();
const sample = await issueClientCertificate({ ca, csr: parsedCsr, peerName: 'bench', grantId, subjectUserId: 'alice' });

const rows: Row[] = [];
rows.push(
  await measure('keygen P-256 + CSR (in process)', iterations, async () => {
    await createCsr({ keys: await generateKeyPair(), commonName: 'bench' });
  }),
);
rows.push(await measure('parseCsr (verify + key policy)', iterations, () => parseCsr(csrPem)));
rows.push(
  await measure('issue client cert from CSR PEM', iterations, () =>
    issueClientCertificate({ ca, csr: csrPem, peerName: 'bench', grantId, subjectUserId: 'alice' }),
  ),
);
rows.push(
  await measure('issue client cert from parsed CSR', iterations, () =>
    issueClientCertificate({ ca, csr: parsedCsr, peerName: 'bench', grantId, subjectUserId: 'alice' }),
  ),
);
rows.push(await measure('decodeMosaicIdentity (DER, per socket)', iterations * 10, () => decodeMosaicIdentity(sample.certDer)));
rows.push(await measure('verifyClientCertificate', iterations, () => verifyClientCertificate(sample.certDer, ca.certDer)));
rows.push(await measure('spkiPin (PEM)', iterations, () => spkiPin(ca.certPem)));

let opensslNote = '';
if (opensslAvailable()) {
  rows.push(
    await measure('openssl req -new -newkey ec P-256 (process)', opensslIterations, () => {
      const result = spawnSync(
        'openssl',
        ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', '/dev/null', '-out', '/dev/null'],
        { stdio: 'ignore' },
      );
      if (result.status !== 0) throw new Error('openssl req failed');
    }),
  );
} else {
  opensslNote = '\n(openssl not found on PATH: the reference row is missing)';
}

process.stdout.write(`Mosaic PKI benchmark — Node ${process.version}, ${iterations} iterations\n\n${format(rows)}${opensslNote}\n`);
