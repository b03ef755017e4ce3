/**
 * The two-gateway harness (`pnpm test:federation`): a real serving gateway (**work**) and
 * one or more real requesting gateways (**home**, …) on loopback ports, linked the way a
 * person links them — a grant and a token on work, `peer add` on home (pinned enrollment,
 * key made and sealed on home) — and read over real mTLS with home's stored credentials.
 *
 * Tests that need a certificate the CA would never issue (another subject, past validity,
 * broken extensions) get work's CA key through {@link FederationHarness.workCa}: the
 * harness gives work a known master secret, so it can open the sealed root like a replica.
 */
import { generateMasterSecret, parseMasterSecret, SealKey, type FederationClient, type Grant, type Peer, type RootCa } from '@mosaic/federation-core';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { openRootState } from '../ca/root.js';
import { createCaStateStore } from '../ca-store.js';
import type { PeerClientOptions, PeerCredentials } from '../services/peer-clients.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import type { StartGatewayOptions } from '../gateway.js';

/** The seed every harness run starts work with: two users, three teams, rows of each kind. */
export const FEDERATION_SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
    { id: 'carol', name: 'Carol' },
  ],
  teams: [
    { id: 'T1', name: 'One' },
    { id: 'T2', name: 'Two' },
    { id: 'T3', name: 'Three' },
  ],
  memberships: [
    { teamId: 'T1', userId: 'alice' },
    { teamId: 'T2', userId: 'alice' },
    { teamId: 'T2', userId: 'bob' },
    { teamId: 'T3', userId: 'carol' },
  ],
  resources: {
    tasks: [
      { id: 'a-p1', ownerUserId: 'alice', title: 'Ship the release', body: 'alice personal' },
      { id: 'a-p2', ownerUserId: 'alice', title: 'Pay rent' },
      { id: 'b-p1', ownerUserId: 'bob', title: 'Bob secret ship plan', body: 'bob only' },
      { id: 'c-p1', ownerUserId: 'carol', title: 'Carol ship notes', body: 'carol only' },
      { id: 't1-1', teamId: 'T1', title: 'T1 ship task' },
      { id: 't2-1', teamId: 'T2', title: 'T2 ship task' },
      { id: 't3-1', teamId: 'T3', title: 'T3 ship task' },
    ],
    notes: [
      { id: 'n-a1', ownerUserId: 'alice', title: 'alice note' },
      { id: 'n-b1', ownerUserId: 'bob', title: 'bob note' },
    ],
    credentials: [{ id: 'c-1', ownerUserId: 'alice', title: 'ship password', body: 'hunter2' }],
  },
};

/** A home gateway linked to work through one grant. */
export interface PeerLink {
  readonly home: TestGateway;
  /** The grant on work, as it was when the link was made. */
  readonly grant: Grant;
  /** The peer on home. */
  readonly peer: Peer;
  /** Home's stored credentials for this peer (key unsealed in this process). */
  credentials(): Promise<PeerCredentials>;
  /** A federation client from home's stored peer; no cache and no breaker unless asked. Closed by the harness. */
  client(options?: PeerClientOptions): Promise<FederationClient>;
}

/** A raw answer: status, headers and the parsed JSON body (or `{}`). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> & { error?: { code: string; message: string; requestId: string } };
  text: string;
}

export interface FederationHarness {
  readonly work: TestGateway;
  /** The requesting gateways started so far (the first is the default home of {@link link}). */
  readonly homes: readonly TestGateway[];
  /** The seed work started with. */
  readonly seed: typeof FEDERATION_SEED;
  /** Start another requesting gateway (its own data dir and ports). */
  startHome(name?: string, options?: HomeOptions): Promise<TestGateway>;
  /** Grant + token on work, `peer add` on `home` (default: the first home). */
  link(options: LinkOptions): Promise<PeerLink>;
  /** Work's CA with its key, opened from the store with work's master secret. */
  workCa(): Promise<RootCa>;
  /**
   * An undici agent holding exactly one connection (keep-alive, no TLS session cache) with
   * the given client certificate, trusting work's CA; closed by the harness.
   */
  agent(cred?: { certPem: string; keyPem: string }, options?: { allowH2?: boolean }): Agent;
  /** One request to work's federation listener through `agent` (path below `/api/federation/v1`). */
  call(agent: Agent, method: 'GET' | 'POST', path: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<RawAnswer>;
  /** Work's federation base URL with a host name its server certificate carries. */
  readonly workUrl: string;
  /** Stop every gateway, client and agent (call in afterAll, before PostgreSQL stops). */
  close(): Promise<void>;
}

export interface LinkOptions {
  subjectUserId: string;
  scope: unknown;
  /** Peer name on work's grant (default: the home gateway's name). */
  peerName?: string;
  /** Name home gives work (default `work`, then `work-2`, … when taken). */
  localName?: string;
  home?: TestGateway;
  expiresAt?: string;
}

/** A store: a data dir (embedded SQLite) or a PostgreSQL URL (e.g. `EngineHarness.location()`). */
export type StoreLocation = { dataDir?: string; databaseUrl?: string };

/** How a requesting gateway is started. */
export interface HomeOptions {
  /** Where it logs (default: nowhere). */
  logger?: Logger;
  /** Its requesting side's tunables (e.g. a short breaker cooldown). */
  peerConnections?: StartGatewayOptions['peerConnections'];
  /** Its renewal job's tunables (the job is off unless given). */
  renewal?: StartGatewayOptions['renewal'];
}

/** Where the gateways keep their store. */
export interface HarnessOptions {
  /** Where each gateway (by name) keeps its store — a fresh one per call; default: a new embedded store. */
  location?: (gatewayName: string) => Promise<StoreLocation> | StoreLocation;
  homes?: string[];
  /** Options of the homes started with the harness (and the default of {@link FederationHarness.startHome}). */
  home?: HomeOptions;
}

/** Start work (seeded) and the homes (default one, `home`). */
export async function startFederation(options: HarnessOptions = {}): Promise<FederationHarness> {
  const location = async (name: string): Promise<StoreLocation> => (options.location ? options.location(name) : {});
  const workSecret = generateMasterSecret();
  const work = await startTestGateway({ name: 'work', secret: workSecret, ...(await location('work')) });
  await work.admin.seed(FEDERATION_SEED);
  const homes: TestGateway[] = [];
  const clients: FederationClient[] = [];
  const agents: Agent[] = [];
  const workUrl = work.gateway.federationUrl.replace('127.0.0.1', 'localhost');
  let ca: RootCa | undefined;

  const startHome = async (name = `home${homes.length === 0 ? '' : `-${homes.length + 1}`}`, homeOptions: HomeOptions | undefined = options.home) => {
    const home = await startTestGateway({ name, ...homeOptions, ...(await location(name)) });
    homes.push(home);
    return home;
  };
  for (const name of options.homes ?? ['home']) await startHome(name);

  const harness: FederationHarness = {
    work,
    homes,
    seed: FEDERATION_SEED,
    workUrl,
    startHome,
    async link(o) {
      const home = o.home ?? homes[0];
      if (home === undefined) throw new Error('harness: no home gateway');
      const grant = await work.admin.createGrant({
        subjectUserId: o.subjectUserId,
        peerName: o.peerName ?? home.gateway.config.name,
        scope: o.scope,
        ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
      } as never);
      const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
      const taken = new Set((await home.admin.listPeers()).items.map((p) => p.name));
      let localName = o.localName ?? 'work';
      for (let i = 2; o.localName === undefined && taken.has(localName); i++) localName = `work-${i}`;
      const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: localName });
      return {
        home,
        grant: await work.admin.getGrant(grant.id),
        peer,
        credentials: () => home.gateway.peerClients.credentials(peer.name),
        async client(clientOptions = {}) {
          const c = await home.gateway.peerClients.client(peer.name, { breaker: false, cache: false, ...clientOptions });
          clients.push(c);
          return c;
        },
      };
    },
    async workCa() {
      if (ca !== undefined) return ca;
      const state = await createCaStateStore(work.gateway.storage).load();
      if (state === null) throw new Error('harness: work has no CA');
      const root = await openRootState(state, SealKey.fromMaster(parseMasterSecret(workSecret)));
      const x = new X509Certificate(root.certPem);
      ca = {
        cert: root.certPem,
        certPem: root.certPem,
        certDer: root.certDer,
        keys: root.keys,
        serialHex: x.serialNumber.toLowerCase(),
        notBefore: new Date(x.validFrom),
        notAfter: root.notAfter,
        spkiPin: root.pin,
      };
      return ca;
    },
    agent(cred, agentOptions = {}) {
      const agent = new Agent({
        connect: {
          ca: work.gateway.ca.caCertPem,
          ...(cred ? { cert: cred.certPem, key: cred.keyPem } : {}),
          servername: 'localhost',
          maxCachedSessions: 0,
        },
        connections: 1,
        allowH2: agentOptions.allowH2 ?? false,
      });
      agents.push(agent);
      return agent;
    },
    async call(agent, method, path, callOptions = {}) {
      const headers: Record<string, string> = { ...callOptions.headers };
      if (callOptions.body !== undefined) headers['content-type'] = 'application/json';
      const res = await request(`${workUrl}/api/federation/v1${path}`, {
        method,
        dispatcher: agent,
        headers,
        ...(callOptions.body === undefined ? {} : { body: JSON.stringify(callOptions.body) }),
      });
      const text = await res.body.text();
      let body: RawAnswer['body'] = {};
      if (text !== '') {
        try {
          body = JSON.parse(text) as RawAnswer['body'];
        } catch {
          body = {};
        }
      }
      return { status: res.statusCode, headers: res.headers, body, text };
    },
    async close() {
      for (const c of clients.splice(0)) await c.close().catch(() => undefined);
      for (const a of agents.splice(0)) await a.close().catch(() => undefined);
      for (const h of homes.splice(0).reverse()) await h.stop();
      await work.stop();
    },
  };
  return harness;
}
