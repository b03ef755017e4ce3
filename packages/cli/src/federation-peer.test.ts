// `mosaic federation peer …` and `query …` — the real binary as a child process against two
// real gateways it starts itself (work serves, home reads; run `pnpm build` first). Work's
// grants and tokens are made through its admin API, as `grant token` would.
import { createServer, type AddressInfo } from 'node:net';
import { peerSchema, queryResponseSchema } from '@mosaic/federation-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollmentToken, mosaic, startChildGateway, testHome, type ChildGateway } from './test-support/gateways.js';

const home = testHome('mosaic-cli-peer-');
const env = home.env;
let work: ChildGateway;
let homeGw: ChildGateway;
const DAY = 86_400_000;
// eslint-disable-next-line no-control-regex -- what must never reach a terminal raw
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** `mosaic … --data-dir <home's>`. */
const atHome = (args: string[], input?: string) => mosaic(env, [...args, '--data-dir', homeGw.dataDir], input);
/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}
const peerNames = async () => (await homeGw.admin.listPeers()).items.map((p) => p.name).sort();

beforeAll(async () => {
  [work, homeGw] = await Promise.all([startChildGateway('work', home), startChildGateway('home', home)]);
  await work.admin.seed({
    users: [
      { id: 'alice', name: 'Alice' },
      // a subject user id that carries terminal escapes: the serving side names it, home stores it (case 35)
      { id: 'eve\u001b]0;pwned\u0007\u001b[2J', name: 'Eve' },
    ],
    resources: {
      tasks: [
        { id: 'w-1', ownerUserId: 'alice', title: 'Ship the release' },
        { id: 'w-2', ownerUserId: 'alice', title: 'Pay the \u001b[31minvoice', body: 'first line\nsecond line' },
      ],
    },
  });
  await homeGw.admin.seed({
    users: [{ id: 'alice', name: 'Alice' }],
    resources: { tasks: [{ id: 'h-1', ownerUserId: 'alice', title: 'Home chores' }] },
  });
}, 90_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  home.cleanup();
});

describe('mosaic federation peer add (child process, work + home)', () => {
  it('without a URL off a terminal, or a URL without --ca-pin, is exit 2 naming the flags; nothing is stored', async () => {
    const none = atHome(['federation', 'peer', 'add']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: no enrollment URL, and no terminal to ask for one$/m);
    expect(none.stderr).toMatch(/^hint: .*--ca-pin sha256:<hex>.*peer add - --ca-pin/m);

    const t = await enrollmentToken(work, { user: 'alice' });
    const noPin = atHome(['federation', 'peer', 'add', t.enrollmentUrl]);
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain('--ca-pin is required when not on a terminal');
    const stdinNoPin = atHome(['federation', 'peer', 'add', '-'], `${t.enrollmentUrl}\n`);
    expect(stdinNoPin.code).toBe(2);
    expect(stdinNoPin.stderr).toContain('--ca-pin is required with `-`');

    const badUrl = atHome(['federation', 'peer', 'add', t.enrollmentUrl.replace('https:', 'http:'), '--ca-pin', t.caPin]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/^error: not an enrollment URL: it must start with https:\/\//m);
    const badPin = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', 'sha256:1234']);
    expect(badPin.code).toBe(2);
    expect(badPin.stderr).toMatch(/^error: --ca-pin: not a CA pin/m);
    for (const r of [none, noPin, stdinNoPin, badUrl, badPin]) expect(r.stdout + r.stderr).not.toContain(t.token);
    expect(await peerNames()).toEqual([]);
    // the token was never spent: it still enrolls
    expect((await homeGw.admin.addPeer({ enrollmentUrl: t.enrollmentUrl, caPin: t.caPin, name: 'probe' })).name).toBe('probe');
    await homeGw.admin.removePeer('probe');
  });

  it('a wrong pin is exit 1 with the pin presented; nothing stored and the token unspent — then the right pin links work (--json is a Peer)', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    const wrong = `sha256:${'ab'.repeat(32)}`;
    const refused = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', wrong]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^error: the CA at 127\\.0\\.0\\.1:\\d+ presents another key pin \\(${t.caPin}\\) than the one you gave: nothing was sent, nothing was stored, the token is unused$`, 'm'));
    expect(refused.stderr).toMatch(/^hint: confirm the pin with the serving admin over a second channel/m);
    expect(refused.stdout).toBe('');
    expect(await peerNames()).toEqual([]);
    const json = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', wrong, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'PIN_MISMATCH' } });

    // the pin as a person may paste it: upper case, grouped
    const pasted = t.caPin.slice('sha256:'.length).toUpperCase().replace(/(.{4})(?!$)/g, '$1 ');
    const added = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', pasted, '--json']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const peer = peerSchema.parse(JSON.parse(added.stdout));
    expect(peer).toMatchObject({ name: 'work', state: 'active', localUserId: 'alice', subjectUserId: 'alice', grantId: t.grant.id, caPin: t.caPin, circuit: 'closed' });
    expect(peer.capabilities?.resources).toEqual(['tasks', 'notes']);
    expect(added.stdout).not.toContain(t.token);
    // spent now: a second use says so in one line and a hint
    const again = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', t.caPin, '--name', 'work-again']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: the enrollment token was already used \(each token is good for one peer add\): nothing was stored$/m);
    expect(again.stderr).toMatch(/^hint: ask the serving admin for a new token/m);
  });

  it('`peer add -` reads the URL from stdin; the human summary shows the URL redacted, never the token', async () => {
    const t = await enrollmentToken(work, { user: 'alice', resources: ['tasks'] });
    const r = atHome(['federation', 'peer', 'add', '-', '--ca-pin', t.caPin, '--name', 'work-stdin'], `\n${t.enrollmentUrl}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^✔ Generated a P-256 key · sent the CSR · certificate issued \(serial [0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:…, expires in (29|30)d\)$/);
    expect(lines[1]).toBe('✔ Checked the link: work lets alice read tasks (max 100 rows, 60 req/min)');
    expect(lines[2]).toMatch(/^Peer "work-stdin" is active \(local user alice; enrolled through https:\/\/127\.0\.0\.1:\d+\/api\/federation\/v1\/enroll\/<redacted>\)$/);
    expect(lines[3]).toBe('Try:  mosaic federation query list tasks --source federated:work-stdin');
    expect(r.stdout).not.toContain(t.token);
    expect(await peerNames()).toEqual(['work', 'work-stdin']);
  });
});

describe('mosaic federation peer list | show | inspect | needs-renewal | renew | remove', () => {
  beforeAll(async () => {
    // A short grant: the CA caps the certificate at the grant's expiry, so renewal is due at once
    // (never later than 7 days before expiry).
    const t = await enrollmentToken(work, { user: 'alice', expiresAt: new Date(Date.now() + 2 * DAY).toISOString() });
    await homeGw.admin.addPeer({ enrollmentUrl: t.enrollmentUrl, caPin: t.caPin, name: 'short' });
  });

  it('list: an 80-column table with state, local user, the expiry countdown (⚠ once renewal is due), circuit, last success; --json is the API body', () => {
    const r = atHome(['federation', 'peer', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('NAME             STATE    LOCAL USER     CERT EXPIRES    CIRCUIT   LAST OK');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines.find((l) => l.startsWith('work '))).toMatch(/^work\s+active\s+alice\s+in (29|30)d\s+closed\s+(now|\d+s ago|\d+m ago)$/);
    expect(lines.find((l) => l.startsWith('short '))).toMatch(/^short\s+active\s+alice\s+in (47h|2d) ⚠\s+closed\s+/);
    const body = JSON.parse(atHome(['federation', 'peer', 'list', '--json']).stdout) as { items: unknown[] };
    expect(Object.keys(body)).toEqual(['items']);
    expect(body.items.map((p) => peerSchema.parse(p).name).sort()).toEqual(['short', 'work', 'work-stdin']);
  });

  it('show: the peer in labelled lines; an unknown peer is exit 1 with a hint', () => {
    const r = atHome(['federation', 'peer', 'show', 'work']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^peer work\n {2}state {8}active · circuit closed\n {2}endpoint {5}https:\/\/127\.0\.0\.1:\d+\n {2}local user {3}alice\n/);
    expect(r.stdout).toMatch(/^ {2}may read {5}tasks, notes \(max 100 rows, 60 req\/min\)$/m);
    expect(r.stdout).toMatch(/^ {2}renewal {6}due in (19|20)d \(/m);
    expect(peerSchema.parse(JSON.parse(atHome(['federation', 'peer', 'show', 'work', '--json']).stdout)).name).toBe('work');
    const unknown = atHome(['federation', 'peer', 'show', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: no peer named "nope"\nhint: `mosaic federation peer list` shows the peers of this gateway\n');
  });

  it('inspect: subject, serial, validity, both Mosaic extensions and the CA pin, decoded from the stored certificate', async () => {
    const peer = await homeGw.admin.getPeer('work');
    const r = atHome(['federation', 'peer', 'inspect', 'work']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('peer work — client certificate');
    expect(r.stdout).toMatch(/^ {2}subject {7}CN=home$/m);
    expect(r.stdout).toMatch(/^ {2}issuer {8}CN=Mosaic Federation CA \(work\)$/m);
    expect(r.stdout).toMatch(/^ {2}key {11}ECDSA P-256$/m);
    expect(r.stdout).toContain(`grant id      ${peer.grantId}  (1.3.6.1.4.1.99999.1)  ✔ the peer’s grant`);
    expect(r.stdout).toContain('subject user  alice  (1.3.6.1.4.1.99999.2)  ✔ as recorded');
    expect(r.stdout).toContain(`CA pin        ${peer.caPin}  ✔ the pinned one`);
    expect(r.stdout).toContain('chain         ✔ the certificate is signed by the pinned CA');
    const body = JSON.parse(atHome(['federation', 'peer', 'inspect', 'work', '--json']).stdout) as Record<string, unknown> & { decoded: Record<string, unknown> };
    expect(Object.keys(body).sort()).toEqual(['caCertPem', 'certPem', 'decoded', 'name']);
    expect(body.certPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY/);
    expect(body.decoded).toMatchObject({ subject: 'CN=home', extensions: { grantId: peer.grantId, subjectUserId: 'alice' }, ca: { pin: peer.caPin, pinMatchesPeer: true, issuedLeaf: true } });
    expect((body.decoded.serial as string).replace(/^0+/, '')).toBe(peer.certSerial.replace(/^0+/, ''));
  });

  it('needs-renewal: exit 0 when due, 1 when not, 3 when it cannot tell (unknown peer, gateway down)', async () => {
    const due = atHome(['federation', 'peer', 'needs-renewal', 'short']);
    expect(due.code).toBe(0);
    expect(due.stdout).toMatch(/^short: renewal is due \(since .*\); the certificate expires in (47|48)h/);
    const notDue = atHome(['federation', 'peer', 'needs-renewal', 'work']);
    expect(notDue.code).toBe(1);
    expect(notDue.stdout).toMatch(/^work: renewal is not due — due in (19|20)d \(/);
    expect(atHome(['federation', 'peer', 'needs-renewal', 'work', '-q']).stdout).toBe('');
    const unknown = atHome(['federation', 'peer', 'needs-renewal', 'nope']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^error: no peer named "nope"$/m);
    const port = await closedPort();
    const down = mosaic({ ...env, MOSAIC_ADMIN_TOKEN: 'x'.repeat(43) }, ['federation', 'peer', 'needs-renewal', 'work', '--gateway', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(new RegExp(`^error: cannot reach the gateway at http://127\\.0\\.0\\.1:${port}: connection refused`, 'm'));
  });

  it('renew: exit 1 said in one line — the gateway has no renew route yet (404), or renewal is not due', () => {
    const r = atHome(['federation', 'peer', 'renew', 'work']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: (this gateway cannot renew peers on request: POST \/api\/admin\/peers\/:name\/renew answered 404 \(its version has no such route\)|renewal of work is not due yet: .*)$/m,
    );
    expect(r.stderr).toMatch(/^hint: /m);
    expect(atHome(['federation', 'peer', 'renew', 'nope']).code).toBe(1);
  });

  it('renew of a peer whose renewal is due: a new serial, said in one line (or the 404 of a gateway without the route)', async () => {
    const before = await homeGw.admin.getPeer('short');
    const r = atHome(['federation', 'peer', 'renew', 'short']);
    if (r.code === 1 && r.stderr.includes('answered 404')) return; // a gateway without the renew route: said above
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^renewed peer "short": serial [0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:…, expires in (47h|2d); next renewal due (now|\d+s ago|.* ago)\n$/);
    expect((await homeGw.admin.getPeer('short')).certSerial).not.toBe(before.certSerial);
  });

  it('remove: exit 2 without --yes off a terminal (nothing removed); with --yes the peer is gone', async () => {
    const refused = atHome(['federation', 'peer', 'remove', 'short']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('error: peer remove deletes peer "short" and its key: pass --yes to confirm when not on a terminal\nhint: mosaic federation peer remove short --yes\n');
    expect(await peerNames()).toContain('short');
    const removed = atHome(['federation', 'peer', 'remove', 'short', '--yes']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^removed peer "short": its key and certificate are deleted here/);
    expect(await peerNames()).not.toContain('short');
    expect(atHome(['federation', 'peer', 'remove', 'short', '--yes']).code).toBe(1);
  });

  it('case 35: user ids carrying terminal escapes are shown escaped; a peer name cannot carry them (exit 2, said escaped)', async () => {
    const t = await enrollmentToken(work, { user: 'eve\u001b]0;pwned\u0007\u001b[2J' });
    const badName = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', t.caPin, '--name', 'evil\u001b[2J']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).not.toMatch(RAW_CONTROL);
    const added = atHome(['federation', 'peer', 'add', t.enrollmentUrl, '--ca-pin', t.caPin, '--name', 'eve', '--local-user', 'mal\u001b[31mlory\r']);
    expect(added.code).toBe(0);
    expect(added.stdout).not.toMatch(RAW_CONTROL);
    expect(added.stdout).toContain('local user mal?[31mlory?');
    const list = atHome(['federation', 'peer', 'list']);
    expect(list.stdout).not.toMatch(RAW_CONTROL);
    expect(list.stdout).toMatch(/^eve\s+active\s+mal\?\[31mlory\?\s/m);
    const show = atHome(['federation', 'peer', 'show', 'eve']);
    expect(show.stdout).not.toMatch(RAW_CONTROL);
    expect(show.stdout).toContain('reads as     eve?]0;pwned??[2J on work');
    const inspect = atHome(['federation', 'peer', 'inspect', 'eve']);
    expect(inspect.stdout).not.toMatch(RAW_CONTROL);
    expect(inspect.stdout).toContain('subject user  eve?]0;pwned??[2J  (1.3.6.1.4.1.99999.2)  ✔ as recorded');
    // --json keeps the value exactly (JSON escapes it)
    expect(peerSchema.parse(JSON.parse(atHome(['federation', 'peer', 'show', 'eve', '--json']).stdout)).localUserId).toBe('mal\u001b[31mlory\r');
    expect(atHome(['federation', 'peer', 'remove', 'eve', '--yes']).code).toBe(0);
  });
});

describe('mosaic federation query list | get | search (home reads local + work)', () => {
  it('list --source all: local and federated rows in one table with a SOURCE column; a second list within 30 s is (cached); --json is the API body', () => {
    const first = atHome(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'all']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('SOURCE                   ID               TITLE');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines).toContain('local                    h-1              Home chores');
    // the peers reached: work and work-stdin (both alice's); stored titles are escaped
    expect(lines.some((l) => /^federated:work\s+w-1\s+Ship the release$/.test(l))).toBe(true);
    expect(lines.some((l) => /^federated:work(-stdin)?\s+w-2\s+Pay the \?\[31minvoice$/.test(l))).toBe(true);
    const cached = atHome(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'federated:work']);
    expect(cached.stdout).toMatch(/^federated:work \(cached\)\s+w-1\s+Ship the release$/m);
    const json = atHome(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'federated:work', '--limit', '1', '--json']);
    const body = queryResponseSchema.parse(JSON.parse(json.stdout));
    expect(Object.keys(JSON.parse(json.stdout) as object).sort()).toEqual(['items', 'partial', 'sources']);
    expect(body.partial).toBe(false);
    expect(body.items).toHaveLength(1);
    expect(body.items[0]!._source).toBe('federated:work');
  });

  it('get shows the row from each source that has it (body line by line); a missing id is exit 1; search has a SCORE', () => {
    const got = atHome(['federation', 'query', 'get', 'tasks', 'w-2', '--as', 'alice', '--source', 'federated:work']);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^tasks\/w-2 {2}from federated:work( \(cached\))?\n {2}title {4}Pay the \?\[31minvoice\n {2}owner {4}alice \(personal\)\n/);
    expect(got.stdout).toMatch(/^ {2}body {5}first line\n {11}second line$/m);
    const missing = atHome(['federation', 'query', 'get', 'tasks', 'nope', '--as', 'alice']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: no tasks\/nope at local, federated:work/m);
    const found = atHome(['federation', 'query', 'search', 'tasks', 'ship', '--as', 'alice', '--source', 'federated:work']);
    expect(found.code).toBe(0);
    expect(found.stdout.trimEnd()).toMatch(/^SOURCE\s+ID\s+SCORE TITLE\nfederated:work\s+w-1\s+\d+\.\d\d Ship the release$/);
    const none = atHome(['federation', 'query', 'search', 'tasks', 'zebra', '--as', 'alice', '--source', 'local']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('no tasks match at local\n');
  });

  it('usage errors are exit 2: a bad --source (with a suggestion), --limit, an unknown peer is exit 1', () => {
    const source = atHome(['federation', 'query', 'list', 'tasks', '--source', 'work']);
    expect(source.code).toBe(2);
    expect(source.stderr).toBe('error: --source: "work" is not a source\nhint: use local, all, or federated:<peer> (did you mean federated:work?)\n');
    expect(atHome(['federation', 'query', 'list', 'tasks', '--limit', '0']).code).toBe(2);
    expect(atHome(['federation', 'query', 'get', 'tasks', 'w-1', '--limit', '3']).code).toBe(2);
    const unknown = atHome(['federation', 'query', 'list', 'tasks', '--source', 'federated:nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no peer named "nope"\nhint: `mosaic federation peer list` shows the peers of this gateway$/m);
  });

  it('a peer down: the local rows, one warning line per failed source on stderr, exit 0; --json says partial', async () => {
    await work.stop();
    const r = atHome(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--limit', '50']); // not the cached list
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^local\s+h-1\s+Home chores$/m);
    expect(r.stdout).not.toContain('federated:');
    const warnings = r.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toMatch(/^warning: federated:work(-stdin)? failed \((PEER_UNREACHABLE|CIRCUIT_OPEN)\): .* → is work(-stdin)?'s gateway running/);
    const json = atHome(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--limit', '49', '--json']);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const body = queryResponseSchema.parse(JSON.parse(json.stdout));
    expect(body.partial).toBe(true);
    expect(body.sources.filter((s) => !s.ok).map((s) => s.source).sort()).toEqual(['federated:work', 'federated:work-stdin']);
  });
});
