import { Command } from 'commander';
import { unknownCommand } from './unknown.js';
import { auditArchiveCommand } from './audit/archive.js';
import { auditCommand } from './audit/list.js';
import { auditVerifyCommand } from './audit/verify.js';

/**
 * `mosaic federation` — the federation nouns. Bare, it prints this help (the interactive
 * view will answer there on a TTY).
 */
export function federationCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('federation').description('share data with other gateways: grants, peers, queries and the audit trail');
  const audit = auditCommand(version, run);
  audit.addCommand(auditVerifyCommand(version, run));
  audit.addCommand(auditArchiveCommand(version, run));
  cmd.addCommand(audit);
  cmd.allowExcessArguments(true).action((_flags: unknown, c: Command) =>
    run(() => {
      if (c.args.length > 0) return Promise.reject(unknownCommand(c));
      cmd.outputHelp();
      return Promise.resolve();
    }),
  );
  return cmd;
}
