/**
 * The coded errors of the limits module. All are programming or configuration errors:
 * a refused request is a normal `{ allowed: false }` result, never an error.
 */
import { createError } from '../errors.js';

/** A rate limit that is not a whole number of requests per minute in 1..1e9. */
export const RateLimitInvalid = createError<[string]>(
  'RATE_LIMIT_INVALID',
  'rate limit %s is not a whole number of requests per minute between 1 and 1000000000',
  500,
  "set the grant's scope.rate_limit_per_minute to a whole number of at least 1",
);

/** A bad argument to the bucket or the limiter: cost, clock reading, grant id. */
export const RateLimitArgumentInvalid = createError<[string]>(
  'RATE_LIMIT_ARGUMENT_INVALID',
  'invalid argument to the rate limiter: %s',
  500,
  'this is a bug in the caller',
);

/** A stored bucket state that cannot be a state of this arithmetic (corrupt or foreign). */
export const RateLimitStateInvalid = createError<[string]>(
  'RATE_LIMIT_STATE_INVALID',
  'stored rate-limit bucket is invalid: %s',
  500,
  'delete the stored bucket: a missing bucket is a full one, which is always safe to start from',
);
