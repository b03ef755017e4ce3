import { describe, expect, it } from 'vitest';
import type { Peer } from '@mosaic/federation-core';
import { TABLE_WIDTH } from '../../../render/text.js';
import { planAdd } from './add.js';
import { expiryCell, mayRead, pinGroups, renderNeedsRenewal, renderPeerDetail, renderPeerTable, renderPinComparison, renewalStanding, shortSerial } from './render.js';
import { maskEnrollmentUrl, suggestedName } from './wizard.js';

const NOW = Date.parse('2030-01-31T12:00:00.000Z');
const DAY = 86_400_000;
const at = (ms: number) => new Date(NOW + ms).toISOString();
const PIN = `sha256:${'9f3a41c287ec0b6e'.repeat(4)}`;
const URL_ = `https://work.example.net:8443/api/federation/v1/enroll/${'k'.repeat(43)}`;

function peer(overrides: Partial<Peer> = {}): Peer {
  return {
    name: 'work',
    endpoint: 'https://work.example.net:8443',
    state: 'active',
    localUserId: 'alice',
    grantId: '6b1f0000-0000-4000-8000-000000000000',
    subjectUserId: 'alice',
    certSerial: '4c19a2ff00',
    certNotAfter: at(23 * DAY),
    renewalDueAt: at(13 * DAY),
    caPin: PIN,
    capabilities: { server: 'work', resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 500, supported_verbs: ['list', 'get', 'search'], rate_limit_per_minute: 60 },
    lastSuccessAt: at(-4_000),
    lastFailureAt: null,
    lastError: null,
    circuit: 'closed',
    ...overrides,
  };
}

describe('peer rendering', () => {
  it('renewal standing follows renewalDueAt; an expired certificate is due, under 3 days is urgent', () => {
    expect(renewalStanding(peer(), NOW)).toEqual({ due: false, expired: false, urgent: false });
    expect(renewalStanding(peer({ renewalDueAt: at(-DAY), certNotAfter: at(6 * DAY) }), NOW)).toEqual({ due: true, expired: false, urgent: false });
    expect(renewalStanding(peer({ renewalDueAt: at(-9 * DAY), certNotAfter: at(2 * DAY) }), NOW)).toEqual({ due: true, expired: false, urgent: true });
    expect(renewalStanding(peer({ certNotAfter: at(-DAY) }), NOW)).toEqual({ due: true, expired: true, urgent: true });
    expect(renewalStanding(peer({ renewalDueAt: 'garbage' }), NOW).due).toBe(true);
  });

  it.each([
    [{}, 'in 23d'],
    [{ renewalDueAt: at(-DAY), certNotAfter: at(6 * DAY) }, 'in 6d ⚠'],
    [{ renewalDueAt: at(-DAY), certNotAfter: at(5 * 3_600_000) }, 'in 5h ⚠'],
    [{ certNotAfter: at(-3 * DAY) }, 'expired 3d ago'],
    [{ certNotAfter: at(-1_000) }, 'expired'],
  ] as const)('the expiry countdown %j → %s', (o, text) => {
    expect(expiryCell(peer(o), NOW)).toBe(text);
  });

  it('serials as people quote them', () => {
    expect(shortSerial('4c19a2ff00')).toBe('4c:19:a2:…');
    expect(shortSerial('c19a2')).toBe('0c:19:a2');
    expect(shortSerial('4C19', 8)).toBe('4c:19');
  });

  it('the list fits 80 columns, one row per peer, and shows stored values escaped (case 35)', () => {
    const table = renderPeerTable(
      [
        peer(),
        peer({ name: 'lab', state: 'degraded', localUserId: 'mal\u001b[31mlory\r\n', renewalDueAt: at(-DAY), certNotAfter: at(2 * DAY), circuit: 'half_open', lastSuccessAt: null }),
        peer({ name: 'a-very-long-peer-name-indeed', localUserId: 'someone-with-a-long-id' }),
      ],
      { now: NOW, color: false },
    );
    const lines = table.split('\n');
    expect(lines).toEqual([
      'NAME             STATE    LOCAL USER     CERT EXPIRES    CIRCUIT   LAST OK',
      'work             active   alice          in 23d          closed    now',
      'lab              degraded mal?[31mlory?? in 2d ⚠         half_open —',
      'a-very-long-pee… active   someone-with-… in 23d          closed    now',
    ]);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH);
    const colored = renderPeerTable([peer({ state: 'revoked' })], { now: NOW, color: true });
    expect(colored).toContain('\u001b[31mrevoked '); // red, only when asked
  });

  it('what a peer may read, from its capabilities (or that it is not known yet)', () => {
    expect(mayRead(peer())).toBe('tasks, notes (max 500 rows, 60 req/min)');
    expect(mayRead(peer({ capabilities: null }))).toBe('unknown (no capabilities answer yet)');
  });

  it('show: labelled lines, every stored value escaped', () => {
    const text = renderPeerDetail(peer({ lastFailureAt: at(-3 * 3_600_000), lastError: 'refused\u001b]8;;http://evil\u0007 here', subjectUserId: 'eve\u202e' }), { now: NOW, color: false });
    expect(text.split('\n')).toEqual([
      'peer work',
      '  state        active · circuit closed',
      '  endpoint     https://work.example.net:8443',
      '  local user   alice',
      '  reads as     eve? on work (grant 6b1f0000-0000-4000-8000-000000000000)',
      '  may read     tasks, notes (max 500 rows, 60 req/min)',
      '  certificate  serial 4c:19:a2:ff:00 · expires in 23d (2030-02-23 12:00:00Z)',
      '  renewal      due in 13d (2030-02-13 12:00:00Z)',
      `  CA pin       ${PIN}`,
      '  last ok      now (2030-01-31 11:59:56Z)',
      '  last error   3h ago: refused?]8;;http://evil? here',
    ]);
  });

  it('needs-renewal says due, not due or expired, with the dates', () => {
    expect(renderNeedsRenewal(peer(), NOW)).toBe('work: renewal is not due — due in 13d (2030-02-13 12:00:00Z); the certificate expires in 23d');
    expect(renderNeedsRenewal(peer({ renewalDueAt: at(-DAY), certNotAfter: at(6 * DAY) }), NOW)).toBe(
      'work: renewal is due (since 2030-01-30 12:00:00Z); the certificate expires in 6d (2030-02-06 12:00:00Z)',
    );
    expect(renderNeedsRenewal(peer({ certNotAfter: at(-DAY) }), NOW)).toMatch(/^work: the certificate expired 24h ago — renewal over mTLS is no longer possible/);
  });

  it('pins in groups of four, two lines of eight; the groups that differ are marked under them', () => {
    expect(pinGroups(PIN)).toHaveLength(16);
    expect(pinGroups(PIN)[0]).toBe('9F3A');
    const other = `${PIN.slice(0, 7 + 36)}0000${PIN.slice(7 + 40)}`;
    expect(renderPinComparison([{ label: 'presented', pin: PIN }, { label: 'given', pin: PIN }], { color: false })).toEqual([
      'presented  9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      '           9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      'given      9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      '           9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
    ]);
    expect(renderPinComparison([{ label: 'presented', pin: PIN }, { label: 'given', pin: other }], { color: false })).toEqual([
      'presented  9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      '           9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      'given      9F3A 41C2 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      '           9F3A 0000 87EC 0B6E 9F3A 41C2 87EC 0B6E',
      '                ^^^^',
    ]);
  });
});

describe('peer add: what to do with the arguments', () => {
  const io = (interactive: boolean, stdin = '') => ({ interactive, readStdin: () => stdin });

  it('a URL and a pin: enroll at once, the pin made canonical', () => {
    expect(planAdd(URL_, { caPin: PIN.toUpperCase(), name: 'work' }, io(false))).toEqual({ mode: 'direct', enrollmentUrl: URL_, caPin: PIN, name: 'work' });
    expect(planAdd('-', { caPin: PIN, localUser: 'bob' }, io(false, `\n  ${URL_}  \n`))).toEqual({ mode: 'direct', enrollmentUrl: URL_, caPin: PIN, localUserId: 'bob' });
  });

  it('on a terminal, whatever is missing is asked for', () => {
    expect(planAdd(undefined, {}, io(true))).toEqual({ mode: 'wizard' });
    expect(planAdd(URL_, { name: 'w' }, io(true))).toEqual({ mode: 'wizard', enrollmentUrl: URL_, name: 'w' });
    expect(planAdd(undefined, { caPin: PIN }, io(true))).toEqual({ mode: 'wizard', caPin: PIN });
  });

  it.each([
    [undefined, {}, io(false), /^no enrollment URL, and no terminal to ask for one$/],
    [URL_, {}, io(false), /^--ca-pin is required when not on a terminal/],
    ['-', {}, io(true, URL_), /^--ca-pin is required with `-`/],
    ['-', { caPin: PIN }, io(false, '\n\n'), /^stdin held no enrollment URL$/],
    [URL_, { caPin: 'sha256:abc' }, io(false), /^--ca-pin: not a CA pin/],
    [URL_.replace('enroll', 'enrol'), { caPin: PIN }, io(false), /^not an enrollment URL: the path must end in/],
    [`${URL_}?x=1`, { caPin: PIN }, io(false), /^not an enrollment URL: it must not have a query string/],
  ] as const)('usage error: %s %j', (url, flags, how, message) => {
    let thrown: unknown;
    try {
      planAdd(url, flags, how);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as { status?: number }).status).toBe(400);
    expect((thrown as Error).message).not.toContain('kkkk'); // never the token
  });
});

describe('the wizard helpers', () => {
  it('masks the token while it is typed, keeping what comes before it', () => {
    expect(maskEnrollmentUrl(URL_)).toBe(`https://work.example.net:8443/api/federation/v1/enroll/${'•'.repeat(24)}`);
    expect(maskEnrollmentUrl('https://work.example.net:8443/api/fed')).toBe('https://work.example.net:8443/api/fed');
    expect(maskEnrollmentUrl('https://x/\u001b[2J/enroll/ab')).toBe('https://x/?[2J/enroll/••');
  });

  it("suggests the serving gateway's own name, else the host's first label, never one in use", () => {
    expect(suggestedName({ serverName: '127.0.0.1', gatewayName: 'work' }, new Set())).toBe('work');
    expect(suggestedName({ serverName: 'work.example.net' }, new Set())).toBe('work');
    expect(suggestedName({ serverName: 'work.example.net', gatewayName: 'work' }, new Set(['work']))).toBeUndefined();
    expect(suggestedName({ serverName: 'localhost' }, new Set())).toBeUndefined();
    expect(suggestedName({ serverName: '10.0.0.7' }, new Set())).toBeUndefined();
  });
});
