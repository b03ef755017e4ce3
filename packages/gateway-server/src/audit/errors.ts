import { codedError, type MosaicError } from '@mosaic/federation-core';

/**
 * The spool could not take a row: the caller must not answer unaudited. Its code is
 * `AUDIT_UNAVAILABLE` (503), so the shared error handler sends the envelope as is.
 */
export function auditUnavailable(reason: string, cause?: unknown): MosaicError {
  return codedError('AUDIT_UNAVAILABLE', `the audit spool cannot be written: ${reason}`, cause === undefined ? undefined : { cause });
}

/** True for the error {@link auditUnavailable} makes. */
export function isAuditUnavailable(err: unknown): err is MosaicError {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'AUDIT_UNAVAILABLE';
}

/** A short, loggable reason for an error (no stack, no row content). */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; errcode?: unknown }).errcode ?? (err as { code?: unknown }).code;
    return typeof code === 'string' || typeof code === 'number' ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}
