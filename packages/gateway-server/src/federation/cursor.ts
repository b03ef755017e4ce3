import { createHmac, timingSafeEqual } from 'node:crypto';
import { codedError } from '@mosaic/federation-core';

/** What a list cursor carries: where the next page starts and what it is bound to. */
export interface CursorPayload {
  /** The last id of the previous page. */
  readonly afterId: string;
  /** The grant it was issued to. */
  readonly grant: string;
  /** The resource it pages through. */
  readonly resource: string;
  /** The grant's scope version when it was issued: a scope edit ends every open listing. */
  readonly scopeVersion: number;
  /** Expiry, ms since the epoch. */
  readonly exp: number;
}

/** How long a cursor stays valid (1 hour). */
export const CURSOR_TTL_MS = 60 * 60 * 1_000;

const MAX_CURSOR_LENGTH = 1_024;

function tag(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(`mosaic-cursor-v1.${body}`, 'utf8').digest();
}

/** An opaque cursor: `base64url(JSON payload) "." base64url(HMAC-SHA-256 under key)`. */
export function encodeCursor(key: Buffer, payload: Omit<CursorPayload, 'exp'> & { exp?: number }, now: number = Date.now()): string {
  const full: CursorPayload = {
    afterId: payload.afterId,
    grant: payload.grant,
    resource: payload.resource,
    scopeVersion: payload.scopeVersion,
    exp: payload.exp ?? now + CURSOR_TTL_MS,
  };
  const body = Buffer.from(JSON.stringify(full), 'utf8').toString('base64url');
  return `${body}.${tag(key, body).toString('base64url')}`;
}

function invalid(): Error {
  // Never says which check failed, nor echoes the cursor.
  return codedError('CURSOR_INVALID', 'the paging cursor is not valid for this grant, resource or scope; start the listing again');
}

/**
 * The `afterId` of a cursor issued to `expected.grant` for `expected.resource` under
 * `expected.scopeVersion`, not expired. The tag is checked in constant time before the payload
 * is parsed.
 * @throws CURSOR_INVALID (400) for anything else: malformed, forged, tampered, another grant's,
 *   another resource's, an older scope version's, or expired
 */
export function decodeCursor(key: Buffer, cursor: string, expected: { grant: string; resource: string; scopeVersion: number }, now: number = Date.now()): string {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) throw invalid();
  const parts = cursor.split('.');
  if (parts.length !== 2) throw invalid();
  const [body, sig] = parts as [string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]+$/.test(sig)) throw invalid();
  const given = Buffer.from(sig, 'base64url');
  const want = tag(key, body);
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw invalid();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof payload !== 'object' || payload === null) throw invalid();
  const p = payload as Partial<Record<keyof CursorPayload, unknown>>;
  if (typeof p.afterId !== 'string' || p.afterId.length === 0) throw invalid();
  if (p.grant !== expected.grant || p.resource !== expected.resource || p.scopeVersion !== expected.scopeVersion) throw invalid();
  if (typeof p.exp !== 'number' || !(p.exp > now)) throw invalid();
  return p.afterId;
}
