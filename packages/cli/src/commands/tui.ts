/**
 * `mosaic tui`, and bare `mosaic federation` on a terminal: the full-screen TUI. @mosaic/tui
 * (Ink + React, ~300 ms to import) is loaded only here, so no other command pays for it. The
 * gateway comes from the usual places (flags, env, data dir, profile); the saved profiles are
 * offered in the TUI's gateway switcher (`g`), beside the gateways running from local data dirs.
 */
import { basename, dirname } from 'node:path';
import { Command } from 'commander';
import { outputOptions, resolveConnection, type GlobalOptions } from '../context.js';
import { nodeFetch } from '../http.js';
import { UsageError } from '../output.js';
import { loadToken } from '../profiles/secrets.js';
import { readProfiles } from '../profiles/store.js';

/** Open the TUI; resolves with the exit code (0, or 130 after Ctrl-C). */
export async function openTui(g: GlobalOptions, version: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (g.json === true || process.stdout.isTTY !== true || process.stdin.isTTY !== true) {
    throw new UsageError('the TUI needs a terminal (stdin and stdout a TTY)', 'in scripts use `mosaic federation status`, `grant list`, `peer list` or `audit --follow`');
  }
  const c = resolveConnection(g, env);
  const name = c.source.startsWith('profile ') ? c.source.slice(8) : c.source.endsWith('gateway.json') ? basename(dirname(c.source)) : new URL(c.baseUrl).host;
  const targets = [{ name, baseUrl: c.baseUrl, token: c.token, source: c.source }];
  try {
    const profiles = readProfiles(env);
    for (const [profile, p] of Object.entries(profiles.profiles)) {
      if (targets.some((t) => t.baseUrl === p.gateway)) continue;
      targets.push({ name: profile, baseUrl: p.gateway, token: loadToken(profile, p.token, { env }).token ?? undefined, source: `profile ${profile}` });
    }
  } catch {
    // unreadable profiles: the TUI still opens on the resolved gateway
  }
  const { runTui } = await import('@mosaic/tui');
  return runTui({ targets, userAgent: `mosaic/${version}`, fetch: nodeFetch, color: outputOptions(g).color, env });
}

export function tuiCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('tui')
    .description('the full-screen terminal UI: peers, grants (editor), live audit tail')
    .addHelpText('after', '\nKeys: 1/2/3 or Tab switch tabs, g switches gateway, ? lists every key, q quits.\n\nExamples:\n  mosaic tui\n  mosaic tui --profile work')
    .action((_flags: unknown, cmd: Command) => run(() => openTui(cmd.optsWithGlobals<GlobalOptions>(), version)));
}
