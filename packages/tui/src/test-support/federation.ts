/**
 * Two real gateways in this process for the TUI's end-to-end test: "work" (serving: seeded,
 * with a grant) and "home" (requesting: enrolled as a peer of work), each with its own temp
 * data and XDG dirs, on free loopback ports. `query()` makes a real federation request from
 * home to work, which work audits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, startGateway, type RunningGateway } from '@mosaic/gateway-server';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import type { Grant, Peer } from '@mosaic/federation-core';

export interface TwoGateways {
  home: string;
  env: NodeJS.ProcessEnv;
  work: { gateway: RunningGateway; admin: AdminClient; dataDir: string };
  homeGw: { gateway: RunningGateway; admin: AdminClient; dataDir: string };
  grant: Grant;
  peer: Peer;
  /** A federation request home → work as alice, through the peer: `list tasks` (cached by home after the first), or `search tasks` (never cached). */
  query(verb?: 'list' | 'search'): Promise<void>;
  close(): Promise<void>;
}

export const SEED = {
  users: [{ id: 'alice', name: 'Alice' }],
  teams: [{ id: 't-eng', name: 'Engineering' }],
  memberships: [{ teamId: 't-eng', userId: 'alice' }],
  resources: {
    tasks: [
      { id: 'task-1', ownerUserId: 'alice', title: 'Ship the release' },
      { id: 'task-2', teamId: 't-eng', title: 'Review the gateway' },
    ],
    notes: [{ id: 'note-1', ownerUserId: 'alice', title: 'alice note' }],
  },
};

export async function startTwoGateways(): Promise<TwoGateways> {
  const home = mkdtempSync(join(tmpdir(), 'mosaic-tui-'));
  const env: NodeJS.ProcessEnv = { XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'share') };
  const started: RunningGateway[] = [];
  const start = async (name: string) => {
    const dataDir = join(home, 'share', 'mosaic', name);
    const gateway = await startGateway({
      version: '0.0.0-test',
      logger: createLogger({ name, level: 'silent' }),
      name,
      dataDir,
      federationPort: 0,
      adminPort: 0,
      env,
      renewal: { enabled: false },
    });
    started.push(gateway);
    return { gateway, dataDir, admin: new AdminClient({ baseUrl: gateway.adminUrl, token: readAdminTokenFile(dataDir) ?? undefined }) };
  };
  try {
    const work = await start('work');
    const homeGw = await start('home');
    await work.admin.seed(SEED);
    await homeGw.admin.seed({ users: [{ id: 'alice', name: 'Alice' }] });
    const created = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks', 'notes'], max_rows_per_query: 500 } });
    const { enrollmentUrl, caPin } = await work.admin.createToken(created.id);
    const peer = await homeGw.admin.addPeer({ enrollmentUrl, caPin, name: 'work' });
    const grant = await work.admin.getGrant(created.id);
    return {
      home,
      env,
      work,
      homeGw,
      grant,
      peer,
      async query(verb = 'list') {
        await homeGw.admin.query({ verb, resource: 'tasks', source: 'federated:work', asUser: 'alice', ...(verb === 'search' ? { query: 'ship' } : {}) } as never);
      },
      async close() {
        for (const g of started.reverse()) await g.close().catch(() => undefined);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const g of started.reverse()) await g.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
}
