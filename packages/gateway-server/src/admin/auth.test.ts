import { describe, expect, it } from 'vitest';
import { AdminTokenVerifier, generateAdminToken, hashToken } from './auth.js';

describe('AdminTokenVerifier', () => {
  const root = generateAdminToken();
  const ci = generateAdminToken();
  const verifier = new AdminTokenVerifier();
  verifier.load([
    { name: 'root', tokenHash: hashToken(root) },
    { name: 'ci', tokenHash: hashToken(ci) },
  ]);

  it('names the token a bearer header carries', () => {
    expect(verifier.verify(`Bearer ${root}`)).toBe('root');
    expect(verifier.verify(`Bearer ${ci}`)).toBe('ci');
  });

  it.each([
    ['no header', undefined],
    ['another scheme', `Basic ${root}`],
    ['a wrong token', `Bearer ${generateAdminToken()}`],
    ['a token with one character changed', `Bearer ${root.slice(0, -1)}${root.endsWith('A') ? 'B' : 'A'}`],
    ['the hash instead of the token', `Bearer ${hashToken(root)}`],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s', (_name, header) => {
    expect(verifier.verify(header)).toBeNull();
  });

  it('forgets a token once the list is reloaded without it', () => {
    const v = new AdminTokenVerifier();
    v.load([{ name: 'root', tokenHash: hashToken(root) }]);
    v.load([]);
    expect(v.verify(`Bearer ${root}`)).toBeNull();
  });

  it('makes 43-character base64url tokens that differ every time', () => {
    const a = generateAdminToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateAdminToken()).not.toBe(a);
  });

  it('a slow, stale reload finishing last does not overwrite a newer one (reloads are numbered)', async () => {
    const v = new AdminTokenVerifier();
    const kept = generateAdminToken();
    const revoked = generateAdminToken();
    const answers: Array<(records: Array<{ name: string; tokenHash: string }>) => void> = [];
    const read = () => new Promise<Array<{ name: string; tokenHash: string }>>((r) => answers.push(r));
    // the older read (from before `revoked` was revoked) is slow; the newer one finishes first
    const older = v.reload(read);
    const newer = v.reload(read);
    answers[1]!([{ name: 'kept', tokenHash: hashToken(kept) }]);
    await newer;
    answers[0]!([
      { name: 'kept', tokenHash: hashToken(kept) },
      { name: 'revoked', tokenHash: hashToken(revoked) },
    ]);
    await older;
    expect(v.verify(`Bearer ${kept}`)).toBe('kept');
    expect(v.verify(`Bearer ${revoked}`)).toBeNull();
  });
});
