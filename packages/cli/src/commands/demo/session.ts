/**
 * The demo's sandbox: one temp dir (`$TMPDIR/mosaic-demo-XXXXXX`) holding everything the two
 * embedded gateways write — their data dirs under `share/mosaic/<name>` (where the TUI's
 * gateway switcher finds them), an empty `config/` as their XDG config home, and a generated
 * MOSAIC_SECRET each, so nothing lands in the person's ~/.config, ~/.local/share or keyring.
 * Nothing of the person's environment reaches the gateways (no DATABASE_URL, REDIS_URL…):
 * the demo is always embedded SQLite on loopback. `close` stops every gateway — one still
 * starting included — and removes the dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import type { RunningGateway } from '@mosaic/gateway-server';

/** Prefix of the demo's temp dir in `os.tmpdir()`. */
export const DEMO_TEMP_PREFIX = 'mosaic-demo-';

/** One embedded gateway of the demo. */
export interface DemoGateway {
  name: string;
  dataDir: string;
  adminUrl: string;
  federationUrl: string;
  caPin: string;
  /** Admin token (the root token in the data dir): for the TUI, never printed. */
  token: string;
  admin: AdminClient;
  startedInMs: number;
}

export interface DemoSessionOptions {
  version: string;
  /** Gateway logs on stderr at this level (default: none). */
  logLevel?: string;
  /** The admin client's transport (the CLI's node:http fetch). */
  fetch?: typeof fetch;
}

export class DemoSession {
  /** The temp dir; gone after {@link close}. */
  readonly root: string;
  /** `XDG_DATA_HOME` of the gateways: `<root>/share`. */
  readonly dataHome: string;
  private readonly starts: Array<Promise<RunningGateway | null>> = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: DemoSessionOptions) {
    try {
      this.root = mkdtempSync(join(tmpdir(), DEMO_TEMP_PREFIX));
    } catch (err) {
      throw Object.assign(new Error(`cannot make the demo's temp dir in ${tmpdir()}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`), {
        code: 'DEMO_TEMP_DIR_FAILED',
        remediation: 'point TMPDIR at a writable directory, e.g. TMPDIR=$HOME/tmp pnpm demo',
      });
    }
    this.dataHome = join(this.root, 'share');
  }

  /** Start gateway `name` in this process on free loopback ports. */
  async start(name: string): Promise<DemoGateway> {
    if (this.closing !== undefined) throw new Error('the demo is stopping');
    const dataDir = join(this.dataHome, 'mosaic', name);
    const pending = this.launch(name, dataDir);
    // close() waits for a start still under way, so a gateway that comes up after Ctrl-C is stopped too.
    this.starts.push(pending.catch(() => null));
    const gateway = await pending;
    const token = readAdminTokenFile(dataDir);
    if (token === null) throw new Error(`gateway ${name} wrote no admin token in ${dataDir}`);
    return {
      name,
      dataDir,
      adminUrl: gateway.adminUrl,
      federationUrl: gateway.federationUrl,
      caPin: gateway.ca.caPin,
      token,
      admin: new AdminClient({ baseUrl: gateway.adminUrl, token, userAgent: `mosaic/${this.options.version} (demo)`, ...(this.options.fetch ? { fetch: this.options.fetch } : {}) }),
      startedInMs: gateway.startedInMs,
    };
  }

  private async launch(name: string, dataDir: string): Promise<RunningGateway> {
    const [{ startGateway, createLogger }, { generateMasterSecret }, { pino }] = await Promise.all([
      import('@mosaic/gateway-server'),
      import('@mosaic/federation-core'),
      import('pino'),
    ]);
    const level = this.options.logLevel ?? 'silent';
    const logger = createLogger({ name, level, ...(level === 'silent' ? {} : { destination: pino.destination({ fd: 2, sync: false }) }) });
    return startGateway({
      version: this.options.version,
      logger,
      name,
      dataDir,
      federationPort: 0,
      adminPort: 0,
      env: {
        XDG_CONFIG_HOME: join(this.root, 'config'),
        XDG_DATA_HOME: this.dataHome,
        MOSAIC_SECRET: generateMasterSecret(),
      },
      // Nothing to renew in a demo that lasts minutes; no background job touching the store.
      renewal: { enabled: false },
    });
  }

  /** Stop every gateway (in parallel, each within `deadlineMs`) and remove the temp dir. Idempotent. */
  close(deadlineMs = 3_000): Promise<void> {
    this.closing ??= (async () => {
      const gateways = (await Promise.all(this.starts)).filter((g): g is RunningGateway => g !== null);
      // Newest first: home (which calls work) before work, so a call home has in flight can still finish.
      for (const g of gateways.reverse()) await g.close(deadlineMs).catch(() => {});
      this.removeNow();
    })();
    return this.closing;
  }

  /** Remove the temp dir now, whatever still runs (a second Ctrl-C). */
  removeNow(): void {
    rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}
