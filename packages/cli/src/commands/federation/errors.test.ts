import { describe, expect, it } from 'vitest';
import { toCliError } from '../../output.js';
import { explainFederationError, type FederationCliError } from './errors.js';

/** An error as the admin client throws it. */
const api = (code: string, message: string, status: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, status, remediation: 'the server says', ...extra });

describe('federation errors, said the CLI way (one line, one hint)', () => {
  it.each([
    ['PIN_MISMATCH', 400, 'the CA at w:8443 presents pin sha256:' + 'a'.repeat(64) + ', which is not the pin you were given; nothing was sent', /^the CA at w:8443 presents another key pin \(sha256:a{64}\) than the one you gave: nothing was sent, nothing was stored, the token is unused$/, /second channel/, 1],
    ['TOKEN_USED', 410, 'w: token used', /^the enrollment token was already used/, /new token/, 1],
    ['TOKEN_EXPIRED', 410, 'w: token expired', /^the enrollment token has expired \(tokens live 15 minutes at most\)/, /new token/, 1],
    ['TOKEN_UNKNOWN', 404, 'w: unknown', /^w:8443 does not know this enrollment token/, /new token/, 1],
    ['GRANT_NOT_ENROLLABLE', 409, 'w: no', /^the grant behind this token cannot be enrolled/, /--reenroll/, 1],
    ['PEER_REFUSED_CERT', 502, 'w: closed', /^work: the gateway refused our certificate \(revoked, expired, or issued by another CA\)$/, /^mosaic federation peer inspect work {3}— then ask work's admin for a new enrollment token$/, 1],
    ['PEER_UNREACHABLE', 502, 'w:8443: connection refused', /^w:8443: connection refused$/, /is work's gateway running/, 1],
    ['RENEWAL_NOT_DUE', 409, 'not due', /^renewal of work is not due yet/, /needs-renewal work/, 1],
    ['ENROLLMENT_URL_INVALID', 400, 'bad', /^bad$/, /^the server says$/, 2],
  ] as const)('%s', (code, status, message, line, hint, exit) => {
    const said = toCliError(explainFederationError(api(code, message, status), { peer: 'work', host: 'w:8443' }));
    expect(said.code).toBe(code);
    expect(said.message).toMatch(line);
    expect(said.remediation).toMatch(hint);
    expect(said.exitCode).toBe(exit);
  });

  it("a peer error whose remote code says the grant is gone gets that hint; other codes keep the gateway's words", () => {
    const gone = explainFederationError(api('PEER_ERROR', 'capabilities failed', 502, { details: { remoteCode: 'GRANT_REVOKED' } })) as FederationCliError;
    expect(gone.remediation).toMatch(/no longer honours that grant/);
    const other = api('PEER_ERROR', 'x', 502, { details: { remoteCode: 'RATE_LIMITED' } });
    expect(explainFederationError(other)).toBe(other);
    const plain = new Error('boom');
    expect(explainFederationError(plain)).toBe(plain);
    expect(explainFederationError('nope')).toBe('nope');
  });

  it('stored names in the context are escaped', () => {
    const said = explainFederationError(api('PEER_REFUSED_CERT', 'x', 502), { peer: 'w\u001b[2J' }) as Error;
    expect(said.message).toBe('w?[2J: the gateway refused our certificate (revoked, expired, or issued by another CA)');
  });
});
