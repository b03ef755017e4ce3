/**
 * The demo's story, step by step, through the same admin API calls the CLI makes: two
 * gateways, seeded; a grant on work for Alice → home and its enrollment token; `peer add` on
 * home (pinned to work's CA; home makes the key and CSR); a merged `query list tasks --source
 * all`; a federated `get` of Alice's credential, refused by work; and work's audit row of that
 * refusal. Returns what happened; printing the results is the caller's (render.ts).
 */
import type { AuditRow, Grant, Peer, QueryResponse } from '@mosaic/federation-core';
import { displayed, plural, relativeWhen } from '../../render/text.js';
import { shortSerial } from '../federation/peer/render.js';
import { shortId } from '../federation/grant/shared.js';
import { DEMO_GRANT, DEMO_USER, DENIED_CREDENTIAL, HOME_SEED, seedSummary, WORK_SEED } from './dataset.js';
import type { DemoGateway, DemoSession } from './session.js';
import type { Steps } from './steps.js';

/** What the run showed: every answer as the admin API gave it. */
export interface DemoResult {
  work: DemoGateway;
  home: DemoGateway;
  grant: Grant;
  /** The enrollment token's expiry and pin (the token itself is spent and never kept). */
  enrollment: { caPin: string; expiresAt: string };
  peer: Peer;
  /** `query list tasks --source all --as alice` on home. */
  merged: QueryResponse;
  /** `query get credentials cred-vpn --source federated:work --as alice` on home. */
  denied: QueryResponse;
  /** Work's audit row of that refusal. */
  audit: AuditRow;
}

/** A step whose answer is not the one the story needs: a bug or a broken install, said plainly. */
function unexpected(message: string, remediation = 'this is a bug in mosaic; run `mosaic demo --no-tui -v` and report the output'): Error {
  return Object.assign(new Error(message), { code: 'DEMO_UNEXPECTED', remediation });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Audit rows reach the store from a spool a moment after the answer: wait for the refusal's row. */
async function refusalRow(work: DemoGateway, timeoutMs = 5_000): Promise<AuditRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { items } = await work.admin.audit({ verb: 'get', outcome: 'denied', limit: 20 });
    const row = items.find((r) => r.resource === 'credentials' && r.peer === 'home');
    if (row !== undefined) return row;
    if (Date.now() > deadline) throw unexpected(`work's audit log shows no denied row for the credential after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
}

/** Run the story in `session`, reporting each step on `steps`. Gateways stay up (the caller closes the session). */
export async function runScenario(session: DemoSession, steps: Steps): Promise<DemoResult> {
  const [work, home] = await steps.run(
    'Starting gateways work and home (embedded SQLite, loopback)',
    () => Promise.all([session.start('work'), session.start('home')]),
    (gws) => gws.map((g) => `Started ${g.name.padEnd(4)}  admin ${g.adminUrl} · federation ${g.federationUrl}`),
  );

  await steps.run(
    'Seeding work and home',
    () => Promise.all([work.admin.seed(WORK_SEED), home.admin.seed(HOME_SEED)]),
    () => [`Seeded work: ${seedSummary(WORK_SEED)}`, `Seeded home: ${DEMO_USER}'s own ${seedSummary({ resources: HOME_SEED.resources })}`],
  );

  const grant = await steps.run(
    `Creating a grant on work for ${DEMO_USER} → home`,
    () => work.admin.createGrant(DEMO_GRANT),
    (g) => `Grant ${shortId(g.id)}… on work: ${displayed(g.subjectUserId)} → ${displayed(g.peerName)} may read ${g.scope.resources.join(', ')}; not ${g.scope.excluded_resources.join(', ')}`,
  );

  const token = await steps.run(
    'Issuing an enrollment token',
    () => work.admin.createToken(grant.id, { ttlSeconds: 15 * 60 }),
    (t) => `Issued an enrollment token (single use, ${Math.round((Date.parse(t.expiresAt) - Date.now()) / 60_000)} min); work's CA pin ${t.caPin.slice(0, 'sha256:'.length + 12)}…`,
  );
  if (token.caPin !== work.caPin) throw unexpected('the pin in the enrollment token is not the pin of work\'s CA');

  const peer = await steps.run(
    'Adding work as a peer of home: key and CSR on home, pinned enrollment',
    () => home.admin.addPeer({ enrollmentUrl: token.enrollmentUrl, caPin: token.caPin, name: 'work', localUserId: DEMO_USER }),
    (p) => `Added peer ${displayed(p.name)} on home (pinned to work's CA): ${displayed(p.state)}, cert ${shortSerial(p.certSerial)} expires ${relativeWhen(p.certNotAfter, Date.now())}`,
  );

  const merged = await steps.run(
    `Querying tasks on home as ${DEMO_USER}, every source`,
    async () => {
      const answer = await home.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: DEMO_USER });
      const failed = answer.sources.find((s) => !s.ok);
      if (failed !== undefined) throw unexpected(`the merged query came back partial: ${displayed(failed.source)} failed (${failed.error?.code ?? 'ERROR'}: ${displayed(failed.error?.message ?? '')})`);
      return answer;
    },
    (a) => {
      const count = (source: string) => a.items.filter((i) => i._source === source).length;
      return `Queried tasks on home as ${DEMO_USER}: ${plural(a.items.length, 'row')} — ${count('local')} local, ${count('federated:work')} federated:work`;
    },
  );

  const denied = await steps.run(
    `Asking work for ${DEMO_USER}'s credential ${DENIED_CREDENTIAL} (outside the grant)`,
    async () => {
      const answer = await home.admin.query({ verb: 'get', resource: 'credentials', id: DENIED_CREDENTIAL, source: 'federated:work', asUser: DEMO_USER });
      const source = answer.sources.find((s) => s.source === 'federated:work');
      if (answer.items.length > 0) throw unexpected('work answered with the credential, which the grant excludes', 'this is a security bug in mosaic: report it (see SECURITY.md)');
      if (source?.error?.code !== 'RESOURCE_DENIED') throw unexpected(`work did not refuse with RESOURCE_DENIED but ${source?.error?.code ?? 'nothing'}`);
      return answer;
    },
    (a) => `Asked work for ${DEMO_USER}'s credential ${DENIED_CREDENTIAL}: refused, 403 ${displayed(a.sources[0]?.error?.code ?? '')}`,
  );

  const audit = await steps.run(
    'Reading the refusal in work\'s audit log',
    () => refusalRow(work),
    (r) => `Work's audit log has it: ${displayed(r.verb)} ${displayed(r.resource ?? '—')} → ${r.outcome} ${r.statusCode}, trace ${displayed((r.traceId ?? '—').slice(0, 12))}…`,
  );

  return { work, home, grant, enrollment: { caPin: token.caPin, expiresAt: token.expiresAt }, peer, merged, denied, audit };
}
