#!/usr/bin/env node
/**
 * `mosaic-tui [--gateway <url> --token-file <file>] [--data-dir <dir>]`: the TUI on its own,
 * for development and the end-to-end test. People run `mosaic tui` (the CLI resolves profiles
 * and the keyring, then calls `runTui`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readAdminTokenFile, readDiscoveryFile } from '@mosaic/federation-core/admin-client';
import { runTui } from './run.js';
import type { GatewayTarget } from './lib/gateways.js';

const { values } = parseArgs({
  options: { gateway: { type: 'string' }, 'token-file': { type: 'string' }, 'data-dir': { type: 'string' }, 'no-color': { type: 'boolean' } },
  strict: true,
});
/** The gateway named on the command line, or none (the TUI then opens the local ones); a string is a problem to print. */
function target(): GatewayTarget[] | string {
  const dataDir = values['data-dir'] ?? (process.env.MOSAIC_DATA_DIR || undefined);
  let token = values['token-file'] !== undefined ? readFileSync(values['token-file'], 'utf8').trim() : process.env.MOSAIC_ADMIN_TOKEN?.trim() || undefined;
  const url = values.gateway ?? (process.env.MOSAIC_GATEWAY_URL || undefined);
  if (url !== undefined) return [{ name: new URL(url).host, baseUrl: url, token, source: '--gateway' }];
  if (dataDir === undefined) return [];
  const file = readDiscoveryFile(dataDir);
  token ??= readAdminTokenFile(dataDir) ?? undefined;
  if (file === null) return `no gateway is running on data dir ${dataDir}\nhint: mosaic gateway start --data-dir ${dataDir}`;
  return [{ name: file.name, baseUrl: file.adminUrl, token, source: dataDir }];
}

const targets = target();
if (typeof targets === 'string') {
  process.stderr.write(`error: ${targets}\n`);
  process.exitCode = 1;
} else {
  try {
    process.exitCode = await runTui({ targets, userAgent: 'mosaic-tui', ...(values['no-color'] ? { color: false } : {}) });
  } catch (err) {
    const e = err as { message?: string; remediation?: string };
    process.stderr.write(`error: ${e.message ?? String(err)}\n${e.remediation ? `hint: ${e.remediation}\n` : ''}`);
    process.exitCode = 1;
  }
}
