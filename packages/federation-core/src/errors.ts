/**
 * Coded errors from one factory (the Fastify `createError` pattern).
 *
 * Every error federation-core throws on purpose is a {@link MosaicError}: a stable
 * UPPER_SNAKE `code`, a human `message`, an optional `remediation` (what to do about it)
 * and, where the error maps onto an HTTP answer, a `statusCode`. Callers branch on `code`
 * or on the class made by {@link createError}; nothing here prints or exits.
 */

export interface MosaicErrorOptions {
  /** The underlying error, kept for `-v` output and logs; never shown to a peer. */
  cause?: unknown;
  /** Overrides the remediation given to {@link createError}. */
  remediation?: string;
  /** Structured detail safe to show to the caller (never a secret, key, PEM or row). */
  details?: unknown;
}

export class MosaicError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly remediation: string | undefined;
  readonly details: unknown;

  constructor(code: string, message: string, statusCode = 500, options: MosaicErrorOptions & { remediation?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MosaicError';
    this.code = code;
    this.statusCode = statusCode;
    this.remediation = options.remediation;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; remediation?: string } {
    return this.remediation === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, remediation: this.remediation };
  }
}

/** A class of {@link MosaicError} with a fixed code, status and message template. */
export interface MosaicErrorClass<A extends unknown[]> {
  new (...args: [...A, MosaicErrorOptions?] | A): MosaicError;
  readonly code: string;
  readonly statusCode: number;
  /** True when `err` is a MosaicError carrying this class's code. */
  is(err: unknown): err is MosaicError;
}

/**
 * Make an error class with a stable code. `%s` in the template is replaced by the
 * constructor's arguments in order; a trailing options object may carry `cause`,
 * `remediation` and `details`.
 *
 * @example
 * const GrantRevoked = createError('GRANT_REVOKED', 'grant %s is revoked', 403);
 * throw new GrantRevoked(grantId);
 */
export function createError<A extends unknown[] = string[]>(
  code: string,
  template: string,
  statusCode = 500,
  remediation?: string,
): MosaicErrorClass<A> {
  class CodedError extends MosaicError {
    static readonly code = code;
    static readonly statusCode = statusCode;
    static is(err: unknown): err is MosaicError {
      return err instanceof MosaicError && err.code === code;
    }
    constructor(...args: unknown[]) {
      const last = args.at(-1);
      const placeholders = (template.match(/%s/g) ?? []).length;
      const options: MosaicErrorOptions =
        args.length > placeholders && typeof last === 'object' && last !== null ? (args.pop() as MosaicErrorOptions) : {};
      let i = 0;
      const message = template.replace(/%s/g, () => String(args[i++]));
      super(code, message, statusCode, { ...options, remediation: options.remediation ?? remediation });
      this.name = `MosaicError[${code}]`;
    }
  }
  return CodedError;
}

/** True for any error thrown on purpose by Mosaic code. */
export function isMosaicError(err: unknown): err is MosaicError {
  return err instanceof MosaicError;
}
