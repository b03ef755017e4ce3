import { Command, Option } from 'commander';
import type { GatewaySummary } from '@mosaic/gateway-server';
import type { GlobalOptions } from '../../context.js';
import { outputOptions } from '../../context.js';
import { paint } from '../../output.js';
import { UsageError } from '../../output.js';

interface StartFlags {
  name?: string;
  dataDir?: string;
  federationHost?: string;
  federationPort?: string;
  adminPort?: string;
  adminHost?: string;
  publicUrl?: string;
  databaseUrl?: string;
  redisUrl?: string;
  ca?: 'embedded' | 'step-ca';
  logLevel?: string;
  allowMigratedStore?: boolean;
}

function portFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`${flag} must be a port number (0–65535), not "${value}"`);
  return Number(value);
}

export function startCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('start')
    .description('run a gateway: the mTLS federation listener and the admin API')
    .option('--name <name>', 'gateway name (work, home, …)', 'default')
    .option('--federation-host <host>', 'federation listener bind address (0.0.0.0 to expose)', '127.0.0.1')
    .option('--federation-port <port>', 'federation listener port (0: any free port)', '8443')
    .option('--admin-port <port>', 'admin API port on 127.0.0.1 (0: any free port)', '8400')
    .option('--admin-host <host>', 'admin API bind address (loopback only, unless it has TLS)')
    .option('--public-url <url>', 'URL peers use to reach the federation listener (default: from the bind address)')
    .option('--database-url <url>', 'PostgreSQL URL (prefer the DATABASE_URL environment variable: it carries a password)')
    .option('--redis-url <url>', 'Redis/Valkey URL for shared rate limits (prefer REDIS_URL)')
    .addOption(new Option('--ca <mode>', 'certificate authority').choices(['embedded', 'step-ca']).default('embedded'))
    .option('--log-level <level>', 'log level of the JSON logs on stderr (default: warn on a terminal, info otherwise)')
    .option('--allow-migrated-store', 'start on an embedded store that `gateway migrate-storage` already copied into PostgreSQL (refused otherwise)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway start --name work
  mosaic gateway start --name work --federation-host 0.0.0.0 --public-url https://work.example.net:8443
  DATABASE_URL=postgres://mosaic@db/mosaic MOSAIC_SECRET=… mosaic gateway start --name work

Stops cleanly on SIGTERM or Ctrl-C: stops accepting, answers requests in flight (with
Connection: close), closes keep-alive connections once idle, flushes the audit spool,
removes gateway.json, exits within 5 s.`,
    )
    .action((flags: StartFlags, cmd: Command) =>
      run(async () => {
        const g = cmd.optsWithGlobals<GlobalOptions & StartFlags>();
        const out = outputOptions(g);
        const [{ startGateway, createLogger }, { pino }] = await Promise.all([import('@mosaic/gateway-server'), import('pino')]);
        const name = flags.name ?? 'default';
        const level = flags.logLevel ?? process.env.MOSAIC_LOG_LEVEL ?? (process.stderr.isTTY ? 'warn' : 'info');
        const logger = createLogger({ name, level, destination: pino.destination({ fd: 2, sync: false }) });
        const gateway = await startGateway({
          version,
          logger,
          name,
          dataDir: g.dataDir,
          federationHost: flags.federationHost,
          federationPort: portFlag(flags.federationPort, '--federation-port'),
          adminHost: flags.adminHost,
          adminPort: portFlag(flags.adminPort, '--admin-port'),
          publicUrl: flags.publicUrl,
          databaseUrl: flags.databaseUrl,
          redisUrl: flags.redisUrl,
          ca: flags.ca,
          allowMigratedStore: flags.allowMigratedStore === true,
        });
        const summary = await gateway.summary();
        if (out.json) process.stdout.write(`${JSON.stringify(summary.json)}\n`);
        else if (!out.quiet) process.stdout.write(renderSummary(summary.lines, out.color));
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: NodeJS.Signals) => {
            if (stopping) {
              process.stderr.write(`mosaic: ${signal} again — exiting now\n`);
              process.exit(1);
            }
            stopping = true;
            if (!out.json && !out.quiet) process.stderr.write(`\nstopping gateway "${name}"…\n`);
            void gateway.close().then(() => {
              logger.flush();
              resolve();
            });
          };
          process.on('SIGTERM', stop);
          process.on('SIGINT', stop);
        });
      }),
    );
}

function renderSummary(lines: GatewaySummary['lines'], color: boolean): string {
  const label = (s: string) => paint(color, 'dim', s.padEnd(11));
  const out = [`${paint(color, 'cyan', '◆')} ${paint(color, 'bold', `mosaic gateway "${lines.name}"`)} — ready in ${lines.readyMs} ms`];
  for (const [k, v] of lines.rows) out.push(`  ${label(k)} ${v}`);
  if (lines.notice) out.push(`  ${paint(color, 'yellow', lines.notice)}`);
  out.push(`  ${paint(color, 'dim', 'Ctrl-C to stop')}`);
  return `${out.join('\n')}\n`;
}
