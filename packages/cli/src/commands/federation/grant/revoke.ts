import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult, UsageError } from '../../../output.js';
import { displayed } from '../../../render/text.js';
import { canPrompt, confirm } from '../../../tty.js';
import { renderRevoked } from './render.js';
import { getGrantByPrefix, grantIdArg, shortId } from './shared.js';

interface RevokeFlags {
  reason?: string;
  yes?: boolean;
}

/** `mosaic federation grant revoke <id>` — end a grant now (confirms on a TTY, needs --yes otherwise). */
export function grantRevokeCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('revoke')
    .description("end a grant now: its certificate is revoked and the peer's open connections closed")
    .argument('<grant-id>', 'a grant id or a unique prefix (at least 4 characters)')
    .option('--reason <text>', 'why (kept with the grant and shown by `grant show`)')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant revoke 6b1f --reason "laptop stolen"
  mosaic federation grant revoke 6b1f --yes          # in a script or CI

On a terminal it asks first; elsewhere --yes is required (exit 2 without it).
Revoking an already revoked grant changes nothing and exits 0.
Exit codes: 0 revoked · 1 failure (e.g. no such grant) · 2 usage (no --yes off a terminal) · 4 admin authentication · 130 Ctrl-C`,
    )
    .action((id: string, flags: RevokeFlags, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const grantId = grantIdArg(id);
        const prompt = canPrompt(g);
        if (flags.yes !== true && !prompt) {
          throw new UsageError(`revoking grant ${grantId} needs confirmation, and this is not a terminal`, 'pass --yes to revoke without a question');
        }
        if (flags.reason !== undefined && flags.reason.trim() === '') throw new UsageError('--reason must not be empty', 'e.g. --reason "peer decommissioned"');
        const admin = adminClient(g, version);
        const current = await getGrantByPrefix(admin, grantId);
        if (current.status === 'revoked') {
          printResult(out, current, () => renderRevoked(current, true, out.color));
          return ExitCode.ok;
        }
        if (flags.yes !== true) {
          const answer = await confirm(
            `Revoke grant ${shortId(current.id)}… (${displayed(current.subjectUserId)} → ${displayed(current.peerName)}, ${current.status})? The peer loses access at once.`,
          );
          if (answer.kind === 'cancelled') return ExitCode.cancelled;
          if (answer.kind === 'no') {
            process.stderr.write('not revoked\n');
            return ExitCode.failure;
          }
        }
        const revoked = await admin.revokeGrant(current.id, flags.reason?.trim());
        printResult(out, revoked, () => renderRevoked(revoked, false, out.color));
        return ExitCode.ok;
      }),
    );
}
