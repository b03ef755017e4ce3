import { Command } from 'commander';
import type { MigrationReport } from '@mosaic/gateway-server';
import { defaultDataDir } from '@mosaic/federation-core/admin-client';
import { outputOptions, type GlobalOptions } from '../../context.js';
import { paint, printResult } from '../../output.js';
import { displayed } from '../../render/text.js';

interface MigrateFlags {
  dryRun?: boolean;
  name?: string;
  writeSecret?: string;
}

/** A value for a shell command line, single-quoted when it needs to be. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Where the master secret is, and the exact `gateway start` to run on PostgreSQL with it. */
export function secretAdvice(report: MigrationReport): string[] {
  const s = report.secret;
  const start = `DATABASE_URL=… mosaic gateway start --name ${shellWord(report.name)} --data-dir ${shellWord(report.dataDir)}`;
  const fromFile = s.writtenTo ?? (s.source === 'file' ? s.location : null);
  if (s.source === 'none') return ['master secret: the store holds no sealed keys yet; give every replica the same new MOSAIC_SECRET (`openssl rand -base64 32`)'];
  const lines = [`master secret: the ${s.sealedKeysChecked} sealed key${s.sealedKeysChecked === 1 ? '' : 's'} of this store open with seal key ${s.sealKeyId ?? '?'} — ${s.source === 'env' ? 'the MOSAIC_SECRET set now' : `the gateway's own secret in ${s.location ?? '?'}`}`];
  if (s.writtenTo !== null) lines.push(`  written to ${s.writtenTo} (0600): keep it in your secret manager, then delete the file`);
  lines.push('  PostgreSQL mode reads the master secret only from MOSAIC_SECRET; start the gateway on the copy with:');
  if (fromFile !== null) lines.push(`    MOSAIC_SECRET="$(cat ${shellWord(fromFile)})" ${start}`);
  else if (s.source === 'env') lines.push(`    MOSAIC_SECRET=<the value set now> ${start}`);
  else lines.push(`    (it is in the OS keyring: add --write-secret <new file> to write it out, then MOSAIC_SECRET="$(cat <new file>)" ${start})`);
  return lines;
}

/** The per-table counts and what happened, for people. */
export function renderMigration(report: MigrationReport, color: boolean): string {
  const dim = (s: string) => paint(color, 'dim', s);
  const width = Math.max(...report.tables.map((t) => t.table.length), 5) + 2;
  const num = (n: number, w: number) => String(n).padStart(w);
  const lines = [
    `SQLite ${displayed(report.source.location)} → PostgreSQL ${displayed(report.target.location)}${report.dryRun ? dim(' (dry run: nothing is written)') : ''}`,
    dim(`  ${'table'.padEnd(width)}${'source'.padStart(8)}${'in target'.padStart(11)}${'to copy'.padStart(9)}`),
  ];
  for (const t of report.tables) lines.push(`  ${t.table.padEnd(width)}${num(t.source, 8)}${num(t.inTarget, 11)}${num(t.toCopy, 9)}`);
  lines.push(`  ${'total'.padEnd(width)}${num(report.totals.source, 8)}${num(report.totals.inTarget, 11)}${num(report.totals.toCopy, 9)}`);
  if (report.spool.unshipped > 0) {
    lines.push(
      report.dryRun
        ? `audit spool: ${report.spool.unshipped} row(s) not shipped yet; a real run ships them into the embedded store first (not counted above)`
        : `audit spool: shipped ${report.spool.shipped} row(s) into the embedded store first (counted above)`,
    );
  }
  if (report.dryRun) {
    lines.push(report.totals.toCopy === 0 ? 'nothing to copy: the target already holds every row' : `would copy ${report.totals.toCopy} rows; run again without --dry-run to copy them`);
  } else if (report.totals.copied === 0) {
    lines.push(paint(color, 'green', 'nothing to copy: the target already holds every row of this store (already migrated)'));
  } else {
    lines.push(paint(color, 'green', `copied ${report.totals.copied} rows in one transaction; the audit sequence continues after ${report.auditSeq}`));
  }
  lines.push(...secretAdvice(report));
  return lines.join('\n');
}

/** `mosaic gateway migrate-storage [--dry-run]` — embedded SQLite → the PostgreSQL in DATABASE_URL. */
export function migrateStorageCommand(_version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('migrate-storage')
    .description('copy the embedded SQLite store into the PostgreSQL in DATABASE_URL (idempotent)')
    .option('--dry-run', 'print per-table row counts (source, already in target, to copy); write nothing')
    .option('--name <name>', 'the gateway name, where its master secret is kept (default: the name in its CA certificate)')
    .option('--write-secret <file>', 'also write the master secret to this new file (0600, outside the data dir), for MOSAIC_SECRET')
    .addHelpText(
      'after',
      `
Examples:
  DATABASE_URL=postgres://mosaic@db.example.net/mosaic mosaic gateway migrate-storage --data-dir ~/.local/share/mosaic/work --dry-run
  DATABASE_URL=postgres://mosaic@db.example.net/mosaic mosaic gateway migrate-storage --data-dir ~/.local/share/mosaic/work

Stop the gateway first: a gateway running on the data dir is refused. Every table is copied
in one transaction, ids, timestamps, sealed keys and audit hashes unchanged; a second run
copies nothing. A target holding other data (another gateway's CA, rows that differ) is
refused and left untouched. The sealed keys need the same master secret on PostgreSQL: the
command says where it is and how to pass it as MOSAIC_SECRET (it never prints the secret).
Exit codes: 0 copied or already migrated · 1 refused (gateway running, target conflict,
secret, database unreachable) · 2 DATABASE_URL missing or not a postgres:// URL`,
    )
    .action((flags: MigrateFlags, cmd: Command) =>
      run(async () => {
        const g = cmd.optsWithGlobals<GlobalOptions & MigrateFlags>();
        const out = outputOptions(g);
        const { migrateStorage } = await import('@mosaic/gateway-server');
        const dataDir = g.dataDir ?? (process.env.MOSAIC_DATA_DIR || undefined) ?? defaultDataDir(flags.name ?? 'default');
        const report = await migrateStorage({
          dataDir,
          databaseUrl: process.env.DATABASE_URL,
          name: flags.name,
          dryRun: flags.dryRun === true,
          writeSecretTo: flags.writeSecret,
        });
        printResult(out, report, () => renderMigration(report, out.color));
      }),
    );
}
