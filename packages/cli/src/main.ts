import { Command, CommanderError } from 'commander';

/** Exit codes of the contract (`mosaic help exit-codes`). */
export const ExitCode = { ok: 0, failure: 1, usage: 2, auth: 4, cancelled: 130 } as const;

export function buildProgram(version: string): Command {
  const program = new Command('mosaic')
    .description('Mosaic Federation: read your data on another gateway, live, over mutual TLS')
    .version(version, '--version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .action(() => program.help());
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });
  return program;
}

/** Runs the CLI; returns the process exit code. Nothing else in the CLI calls process.exit. */
export async function main(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version end with exit code 0; every other commander error is a usage error
      // (commander's own default is 1; the contract says 2).
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return ExitCode.ok;
      }
      return ExitCode.usage;
    }
    throw err;
  }
}
