import { describe, expect, it } from 'vitest';
import { MosaicError } from '../errors.js';
import { ERROR_CODES, ERROR_CODE_LIST, codedError, errorClassFor, errorCodeInfo, isErrorCode, type ErrorCode } from './codes.js';

describe('the error-code catalogue', () => {
  const required: [ErrorCode, number][] = [
    ['CLIENT_CERT_REQUIRED', 401],
    ['TOKEN_UNKNOWN', 404],
    ['TOKEN_USED', 410],
    ['TOKEN_EXPIRED', 410],
    ['CSR_INVALID', 400],
    ['GRANT_NOT_ENROLLABLE', 409],
    ['RENEWAL_NOT_DUE', 409],
    ['GRANT_NOT_FOUND', 404],
    ['GRANT_REVOKED', 403],
    ['GRANT_EXPIRED', 403],
    ['RESOURCE_DENIED', 403],
    ['NOT_FOUND', 404],
    ['CURSOR_INVALID', 400],
    ['RATE_LIMITED', 429],
    ['BODY_TOO_LARGE', 413],
    ['VALIDATION_FAILED', 400],
    ['SCOPE_INVALID', 400],
    ['SCOPE_SENSITIVE', 400],
    ['ADMIN_AUTH_REQUIRED', 401],
    ['INTERNAL', 500],
    ['AUDIT_UNAVAILABLE', 503],
    ['IDENTITY_INVALID', 401],
    ['PEER_NOT_FOUND', 404],
    ['PIN_MISMATCH', 400],
  ];
  it.each(required)('%s answers %i', (code, status) => {
    expect(ERROR_CODES[code].status).toBe(status);
  });

  it.each(ERROR_CODE_LIST)('%s is well-formed data', (code) => {
    const info = errorCodeInfo(code);
    expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    expect(info.status).toBeGreaterThanOrEqual(400);
    expect(info.status).toBeLessThan(600);
    expect(['federation', 'admin', 'both']).toContain(info.origin);
    for (const line of [info.meaning, info.remediation]) {
      expect(line.length).toBeGreaterThan(10);
      expect(line).not.toContain('\n');
    }
  });

  it('isErrorCode knows its own codes only', () => {
    expect(isErrorCode('TOKEN_USED')).toBe(true);
    expect(isErrorCode('token_used')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });

  it('codedError builds a MosaicError with the catalogue’s status and remediation', () => {
    const err = codedError('GRANT_NOT_FOUND', 'no grant matches "6b1f"', { details: { prefix: '6b1f' } });
    expect(err).toBeInstanceOf(MosaicError);
    expect(err.code).toBe('GRANT_NOT_FOUND');
    expect(err.statusCode).toBe(404);
    expect(err.message).toBe('no grant matches "6b1f"');
    expect(err.remediation).toBe(ERROR_CODES.GRANT_NOT_FOUND.remediation);
    expect(err.details).toEqual({ prefix: '6b1f' });
    expect(errorClassFor('GRANT_NOT_FOUND').is(err)).toBe(true);
    expect(errorClassFor('GRANT_NOT_FOUND')).toBe(errorClassFor('GRANT_NOT_FOUND'));
  });

  it('codedError defaults the message to the meaning and keeps %s literally', () => {
    expect(codedError('RATE_LIMITED').message).toBe(ERROR_CODES.RATE_LIMITED.meaning);
    expect(codedError('INTERNAL', '100%s sure').message).toBe('100%s sure');
  });
});
