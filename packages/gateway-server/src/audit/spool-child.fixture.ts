/**
 * Test helper run as a child process (`node --import tsx --conditions=mosaic-source`):
 * appends rows to a spool and prints `acked <id>` after each durable append; with a count,
 * prints `done` after that many and then waits to be killed.
 */
import { AuditSpool, type AuditDurability } from './spool.js';
import { entry } from './test-helpers.js';

const [dataDir, countArg, durability] = process.argv.slice(2);
const count = countArg === undefined || countArg === 'inf' ? Infinity : Number(countArg);
const spool = AuditSpool.open({ dataDir: dataDir!, durability: (durability ?? 'normal') as AuditDurability });
let i = 0;
const next = async (): Promise<void> => {
  while (i < count) {
    const row = await spool.append(entry({ requestId: `req-${i}`, rowsOut: i, latencyMs: 1.5 }));
    i++;
    process.stdout.write(`acked ${row.id}\n`);
  }
  process.stdout.write('done\n');
  setInterval(() => undefined, 1_000);
};
void next();
