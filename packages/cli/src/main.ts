import { Command, CommanderError } from 'commander';
import { federationCommand } from './commands/federation/index.js';
import { expandFor, lazyCommand } from './lazy.js';
import { ExitCode, printError, toCliError } from './output.js';

export { ExitCode } from './output.js';

/** The `mosaic` command tree. `run` wraps every action so errors reach one handler. */
export function buildProgram(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const program = new Command('mosaic')
    .description('Mosaic Federation: read your data on another gateway, live, over mutual TLS')
    .version(version, '--version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .option('--json', 'machine output: one JSON document on stdout')
    .option('--gateway <url>', 'admin API URL (env MOSAIC_GATEWAY_URL)')
    .option('--token-file <path|->', 'admin token file, or - for stdin (env MOSAIC_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'gateway data dir (env MOSAIC_DATA_DIR)')
    .option('--profile <name>', 'a saved gateway profile')
    .option('--no-color', 'no colour')
    .option('--no-input', 'never prompt')
    .option('-q, --quiet', 'less output')
    .option('-v, --verbose', 'more detail on errors')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic gateway start --name work
  mosaic gateway seed seed.json --data-dir ~/.local/share/mosaic/work

Exit codes: 0 ok · 1 failure · 2 usage or validation · 4 admin authentication · 130 Ctrl-C
(details: mosaic help exit-codes)`,
    );
  const gateway = new Command('gateway')
    .description('run and administer a gateway')
    .addHelpText('after', '\nExamples:\n  mosaic gateway start --name work\n  mosaic gateway doctor --strict');
  // Lazy: a command's module is imported only when the command line reaches it (lazy.ts).
  gateway.addCommand(lazyCommand('start', 'run a gateway', async () => (await import('./commands/gateway/start.js')).startCommand(version, run)));
  gateway.addCommand(lazyCommand('seed', 'load users, teams, memberships and resources', async () => (await import('./commands/gateway/seed.js')).seedCommand(version, run)));
  gateway.addCommand(lazyCommand('admin-token', 'manage admin tokens', async () => (await import('./commands/gateway/admin-token.js')).adminTokenCommand(version, run)));
  gateway.addCommand(lazyCommand('doctor', 'check a running gateway', async () => (await import('./commands/gateway/doctor.js')).doctorCommand(version, run)));
  gateway.addCommand(lazyCommand('migrate-storage', 'copy the embedded store into the PostgreSQL in DATABASE_URL', async () => (await import('./commands/gateway/migrate-storage.js')).migrateStorageCommand(version, run)));
  gateway.addCommand(lazyCommand('user', 'local users of this gateway', async () => (await import('./commands/gateway/user.js')).userCommand(version, run)));
  gateway.addCommand(lazyCommand('team', 'teams of this gateway', async () => (await import('./commands/gateway/team.js')).teamCommand(version, run)));
  program.addCommand(gateway);
  program.addCommand(federationCommand(version, run));
  program.addCommand(lazyCommand('tui', 'the full-screen terminal UI (peers, grants, live audit)', async () => (await import('./commands/tui.js')).tuiCommand(version, run)));
  program.addCommand(lazyCommand('demo', 'two embedded gateways, enrolled and queried, then the TUI', async () => (await import('./commands/demo/index.js')).demoCommand(version, run)));
  program.addCommand(lazyCommand('profile', 'saved gateways', async () => (await import('./commands/profile/index.js')).profileCommand(version, run)));
  program.addCommand(lazyCommand('completion', 'print the shell completion script', async () => (await import('./commands/completion.js')).completionCommand(version, run)));
  program.helpCommand(false).addCommand(lazyCommand('help', 'show help for a command, or a topic', async () => (await import('./commands/help.js')).helpCommand(version, run)));
  // Every command exits through main(): usage errors are 2, not commander's 1.
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs the CLI; returns the process exit code. Nothing else in the CLI calls process.exit (but the second Ctrl-C). */
export async function main(argv: string[], version: string): Promise<number> {
  let pending: Promise<number | void> | undefined;
  const program = buildProgram(version, (fn) => {
    pending = fn();
  });
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  const json = argv.includes('--json');
  try {
    await expandFor(program, argv);
    if (argv.length === 0) {
      program.outputHelp();
      return ExitCode.ok;
    }
    await program.parseAsync(argv, { from: 'user' });
    const code = await pending;
    return typeof code === 'number' ? code : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      if (err.code === 'commander.executeSubCommandAsync') return ExitCode.failure;
      return ExitCode.usage;
    }
    const cliError = toCliError(err);
    printError({ json, verbose }, cliError, process.stderr.isTTY === true && !process.env.NO_COLOR);
    return cliError.exitCode;
  }
}
