/**
 * Shared building blocks of the wire schemas: bounded ids and names, timestamps, pins,
 * list wrappers.
 *
 * Strictness, decided per direction:
 * - **Requests** (bodies and query strings a gateway parses from a caller) are
 *   `z.strictObject`: an unknown key is refused with its path, never ignored — a caller that
 *   believes a filter it sent was applied must learn that it was not.
 * - **Responses** (what the other side parses) are `z.object`: unknown keys are dropped, so a
 *   newer gateway may add fields without breaking an older reader, while every field the
 *   reader uses is still checked and junk never passes through to its own output.
 */
import { z } from 'zod';
import { CA_PIN_PATTERN, canonicalCaPin, splitEnrollmentUrl } from './identifiers.js';
import { SHA256_HEX_PATTERN } from './query-hash.js';

/** Length bounds of wire fields (characters). */
export const LIMITS = {
  /** user, team, row ids */
  id: 256,
  /** gateway, peer and admin token names */
  name: 128,
  title: 1_000,
  /** a row body (1 M characters) */
  body: 1_000_000,
  /** search text */
  query: 1_000,
  cursor: 1_024,
  /** a CSR in PEM */
  csrPem: 16_384,
  /** a certificate or chain in PEM */
  pem: 65_536,
  reason: 1_000,
  url: 2_048,
  message: 2_000,
  /** entries in one list of a seed file */
  seedList: 100_000,
  /** rows in one federation answer (the largest max_rows_per_query) */
  rows: 10_000,
} as const;

/** A lowercase UUID, as grant ids are written (36 characters). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A non-empty id of at most {@link LIMITS.id} characters (users, teams, rows). */
export const idSchema = z.string().min(1).max(LIMITS.id);
/** A non-empty name of at most {@link LIMITS.name} characters (gateways, peers). */
export const nameSchema = z.string().min(1).max(LIMITS.name);
/** A grant id: a lowercase UUID. */
export const grantIdSchema = z.string().regex(UUID_PATTERN, { error: 'must be a grant id (a lowercase UUID)' });
/** An ISO 8601 date-time with `Z` or an offset, e.g. `2030-01-31T12:00:00.000Z`. */
export const timestampSchema = z.iso.datetime({ offset: true });
/** A stable UPPER_SNAKE error code. */
export const errorCodeSchema = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { error: 'must be an UPPER_SNAKE error code' });
/** 64 lowercase hex characters (SHA-256 / HMAC-SHA-256). */
export const sha256HexSchema = z.string().regex(SHA256_HEX_PATTERN, { error: 'must be 64 lowercase hex characters' });
/** A certificate serial number in hex (either case, no separators). */
export const certSerialSchema = z.string().regex(/^[0-9a-fA-F]{1,64}$/, { error: 'must be a hex serial number' });
/** A PEM document (certificate, chain). */
export const pemSchema = z.string().min(1).max(LIMITS.pem).regex(/-----BEGIN [A-Z0-9 ]+-----/, { error: 'must be PEM text' });
/** A PKCS#10 CSR in PEM (its content is checked by the CA: `CSR_INVALID`). */
export const csrPemSchema = z
  .string()
  .min(1)
  .max(LIMITS.csrPem)
  .regex(/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/, { error: 'must be a PEM certificate signing request' });
/** An absolute http(s) URL. */
export const httpUrlSchema = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).max(LIMITS.url);

/** A CA pin as the gateway writes it: `sha256:` + 64 lowercase hex. */
export const caPinSchema = z.string().regex(CA_PIN_PATTERN, { error: 'must be sha256: followed by 64 lowercase hex characters' });

/** A CA pin as a person types it (any case, `:`/space separators, prefix optional) → canonical. */
export const caPinInputSchema = z
  .string()
  .max(300)
  .transform((value, ctx) => {
    const pin = canonicalCaPin(value);
    if (pin === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a CA pin: sha256: followed by 64 hex characters (`:` or spaces allowed)' });
      return z.NEVER;
    }
    return pin;
  });

/** An enrollment URL: `https://<host>[/prefix]/api/federation/v1/enroll/<token>`. Never echoed in errors. */
export const enrollmentUrlSchema = z
  .string()
  .max(LIMITS.url)
  .refine((value) => splitEnrollmentUrl(value) !== null, {
    error: 'must be an enrollment URL: https://<host>/api/federation/v1/enroll/<token>, copied whole',
  });

/** One problem of a refused input, as carried in an error's `details`. */
export const problemSchema = z.object({ path: z.string().max(500), message: z.string().max(LIMITS.message) });

/** The `{ "items": [...] }` wrapper of every list answer. */
export function listOf<T extends z.ZodType>(item: T): z.ZodObject<{ items: z.ZodArray<T> }> {
  return z.object({ items: z.array(item) });
}

/** `{ "items": [...], "nextCursor": string | null }` for answers that page. */
export function pageOf<T extends z.ZodType>(item: T): z.ZodObject<{ items: z.ZodArray<T>; nextCursor: z.ZodNullable<z.ZodString> }> {
  return z.object({ items: z.array(item), nextCursor: z.string().min(1).max(LIMITS.cursor).nullable() });
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
