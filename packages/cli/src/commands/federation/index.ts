import { Command } from 'commander';
import { unknownCommand } from './unknown.js';
import { lazyCommand } from '../../lazy.js';
import type { GlobalOptions } from '../../context.js';

/**
 * `mosaic federation` — the federation nouns. Bare, it opens the TUI on a terminal (stdin and
 * stdout TTYs, no --json) and prints this help elsewhere.
 */
export function federationCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('federation')
    .description('share data with other gateways: grants, peers, queries and the audit trail')
    .addHelpText('after', '\nExamples:\n  mosaic federation status\n  mosaic federation grant create --user alice --peer home --scope scope.json');
  // Lazy: each noun's modules are imported only when the command line reaches it (lazy.ts).
  cmd.addCommand(lazyCommand('status', 'this gateway, its peers and grants', async () => (await import('./status.js')).statusCommand(version, run)));
  cmd.addCommand(lazyCommand('grant', 'the serving side: grants', async () => (await import('./grant/index.js')).grantCommand(version, run)));
  cmd.addCommand(
    lazyCommand('audit', 'the audit trail', async () => {
      const [{ auditCommand }, { auditVerifyCommand }, { auditArchiveCommand }] = await Promise.all([import('./audit/list.js'), import('./audit/verify.js'), import('./audit/archive.js')]);
      const audit = auditCommand(version, run);
      audit.addCommand(auditVerifyCommand(version, run));
      audit.addCommand(auditArchiveCommand(version, run));
      return audit;
    }),
  );
  cmd.addCommand(lazyCommand('peer', 'the requesting side: peers', async () => (await import('./peer/index.js')).peerCommand(version, run)));
  cmd.addCommand(lazyCommand('query', 'read through peers', async () => (await import('./query/index.js')).queryCommand(version, run)));
  cmd.allowExcessArguments(true).action((_flags: unknown, c: Command) =>
    run(() => {
      if (c.args.length > 0) return Promise.reject(unknownCommand(c));
      // On a terminal, bare `mosaic federation` opens the TUI (loaded only now); elsewhere, help.
      const g = c.optsWithGlobals<GlobalOptions>();
      if (g.json !== true && process.stdout.isTTY === true && process.stdin.isTTY === true) return import('../tui.js').then((m) => m.openTui(g, version));
      cmd.outputHelp();
      return Promise.resolve();
    }),
  );
  return cmd;
}
