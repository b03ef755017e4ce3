import { Command } from 'commander';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { printResult, UsageError } from '../../../output.js';
import { renderToken } from './render.js';
import { durationFlag, getGrantByPrefix, grantIdArg } from './shared.js';

/** The longest an enrollment token lives (CONTRACT.md): 15 minutes. */
export const MAX_TOKEN_TTL_SECONDS = 900;

/** `--ttl` → whole seconds, 1 s … 15 min. */
export function ttlSeconds(text: string): number {
  const ms = durationFlag('--ttl', text, '15m');
  if (ms % 1000 !== 0 || ms / 1000 > MAX_TOKEN_TTL_SECONDS) throw new UsageError(`--ttl: ${text} is longer than 15 minutes`, 'enrollment tokens live at most 15m, e.g. --ttl 10m');
  return ms / 1000;
}

/** `mosaic federation grant token <id>` — a single-use enrollment token and the exact `peer add` line for the other side. */
export function grantTokenCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('token')
    .description("make a single-use enrollment token for a grant, and print the `peer add` line for the peer's admin")
    .argument('<grant-id>', 'a grant id or a unique prefix (at least 4 characters)')
    .option('--ttl <duration>', 'how long the token stays valid (at most 15m)', '15m')
    .option('--reenroll', "for an active grant: the token replaces the peer's certificate (every earlier serial is revoked)")
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation grant token 6b1f
  mosaic federation grant token 6b1f --ttl 5m --json | jq -r .enrollmentUrl
  mosaic federation grant token 6b1f --reenroll     # the peer's certificate expired

A new token cancels the grant's older unused ones. The URL carries the token: send it over a
channel you trust, and confirm the CA pin over a second one.`,
    )
    .action((id: string, flags: { ttl: string; reenroll?: boolean }, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const grantId = grantIdArg(id);
        const ttl = ttlSeconds(flags.ttl);
        const admin = adminClient(g, version);
        const grant = await getGrantByPrefix(admin, grantId);
        const token = await admin.createToken(grant.id, { ttlSeconds: ttl, ...(flags.reenroll === true ? { reenroll: true } : {}) });
        printResult(out, token, () => renderToken(token, grant, { now: Date.now(), color: out.color, reenroll: flags.reenroll === true }));
      }),
    );
}
