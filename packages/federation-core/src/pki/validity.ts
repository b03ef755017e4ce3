/**
 * The validity window of an issued certificate: backdated a little for clock skew between
 * gateways, never past the grant's expiry, never past the CA's own notAfter.
 */
import { IssueInvalidError } from './errors.js';

/** How far notBefore is set before `now`, so a peer whose clock lags still accepts the cert. */
export const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** X.509 times have whole seconds; truncating keeps `notAfter ≤ cap` true after encoding. */
export function truncateToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** Inputs of {@link validityWindow}. */
export interface ValidityInput {
  now: Date;
  lifetimeDays: number;
  maxLifetimeDays: number;
  /** The grant's expiresAt, when it has one. */
  notAfterCap?: Date | undefined;
  /** The issuing CA's notAfter. */
  caNotAfter: Date;
}

/**
 * `{ notBefore, notAfter }` = `{ now − 5 min, min(now + lifetime, cap, CA notAfter) }`.
 * @throws ISSUE_INVALID for a bad lifetime, an invalid date, or a cap already past
 */
export function validityWindow(input: ValidityInput): { notBefore: Date; notAfter: Date } {
  const { now, lifetimeDays, maxLifetimeDays, notAfterCap, caNotAfter } = input;
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new IssueInvalidError('now must be a valid Date');
  if (!Number.isFinite(lifetimeDays) || lifetimeDays <= 0 || lifetimeDays > maxLifetimeDays) {
    throw new IssueInvalidError(`lifetimeDays must be above 0 and at most ${maxLifetimeDays}`);
  }
  if (notAfterCap !== undefined && (!(notAfterCap instanceof Date) || Number.isNaN(notAfterCap.getTime()))) {
    throw new IssueInvalidError('notAfterCap must be a valid Date');
  }
  const notBefore = truncateToSecond(new Date(now.getTime() - BACKDATE_MS));
  let end = now.getTime() + lifetimeDays * DAY_MS;
  if (notAfterCap) end = Math.min(end, notAfterCap.getTime());
  end = Math.min(end, caNotAfter.getTime());
  const notAfter = truncateToSecond(new Date(end));
  if (notAfter.getTime() <= now.getTime()) {
    throw new IssueInvalidError(
      notAfterCap && notAfterCap.getTime() <= now.getTime() ? 'notAfterCap (the grant expiry) has already passed' : 'the certificate would already be expired',
    );
  }
  return { notBefore, notAfter };
}
