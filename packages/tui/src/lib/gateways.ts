/**
 * The gateways the TUI can switch between (`g`): the ones the CLI hands over (its resolved
 * connection and saved profiles) plus every gateway running from a local data dir.
 */
import { readAdminTokenFile, runningGateways } from '@mosaic/federation-core/admin-client';

export interface GatewayTarget {
  /** What the switcher and the status line show, e.g. `work`. */
  name: string;
  /** Admin API URL. */
  baseUrl: string;
  /** Admin token (never drawn). */
  token?: string | undefined;
  /** Where it came from: `profile work`, `~/.local/share/mosaic/work`, `--gateway`. */
  source: string;
}

/** Gateways running from data dirs under the data root, with their admin-token files. */
export function localGateways(env: NodeJS.ProcessEnv = process.env): GatewayTarget[] {
  return runningGateways(env).map(({ dataDir, file }) => ({
    name: file.name,
    baseUrl: file.adminUrl,
    token: readAdminTokenFile(dataDir) ?? undefined,
    source: dataDir,
  }));
}

/** `known` first, then the discovered ones whose URL is not known yet. */
export function mergeTargets(known: readonly GatewayTarget[], discovered: readonly GatewayTarget[]): GatewayTarget[] {
  const out = [...known];
  const urls = new Set(known.map((t) => t.baseUrl));
  for (const t of discovered) {
    if (urls.has(t.baseUrl)) continue;
    urls.add(t.baseUrl);
    out.push(t);
  }
  return out;
}
