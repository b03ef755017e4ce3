import type { Command } from 'commander';
import { UsageError } from '../../output.js';

/** `mosaic federation frob`: a usage error naming the known subcommands (commander would say "too many arguments"). */
export function unknownCommand(c: Command): UsageError {
  const path: string[] = [];
  for (let p: Command | null = c; p !== null; p = p.parent) path.unshift(p.name());
  const known = c.commands.map((s) => s.name());
  return new UsageError(`unknown command "${c.args[0] ?? ''}" for ${path.join(' ')}`, `the commands are: ${known.join(', ')} (see ${path.join(' ')} --help)`);
}
