import { describe, expect, it } from 'vitest';
import { createError, isMosaicError, MosaicError } from './errors.js';

describe('createError', () => {
  const GrantRevoked = createError('GRANT_REVOKED', 'grant %s is revoked', 403, 'issue a new grant');

  it('fills the template and carries code, status and remediation', () => {
    const err = new GrantRevoked('6b1f');
    expect(err).toBeInstanceOf(MosaicError);
    expect(err.message).toBe('grant 6b1f is revoked');
    expect(err.code).toBe('GRANT_REVOKED');
    expect(err.statusCode).toBe(403);
    expect(err.remediation).toBe('issue a new grant');
    expect(GrantRevoked.is(err)).toBe(true);
    expect(isMosaicError(err)).toBe(true);
    expect(err.toJSON()).toEqual({ code: 'GRANT_REVOKED', message: 'grant 6b1f is revoked', remediation: 'issue a new grant' });
  });

  it('takes a trailing options object for cause, details and a remediation override', () => {
    const cause = new Error('disk full');
    const err = new GrantRevoked('x', { cause, remediation: 'other', details: { path: 'a' } });
    expect(err.cause).toBe(cause);
    expect(err.remediation).toBe('other');
    expect(err.details).toEqual({ path: 'a' });
  });

  it('does not mistake a plain error or another code for its own', () => {
    const Other = createError('OTHER', 'other');
    expect(GrantRevoked.is(new Other())).toBe(false);
    expect(GrantRevoked.is(new Error('x'))).toBe(false);
    expect(new Other().toJSON()).toEqual({ code: 'OTHER', message: 'other' });
    expect(new Other().statusCode).toBe(500);
  });
});
