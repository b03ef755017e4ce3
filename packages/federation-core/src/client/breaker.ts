import { createError } from '../errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long the circuit stays open before a half-open probe is let through (default 30 s). */
  cooldownMs?: number;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
  /** Called on every state change: the place to raise one "federation offline" signal per outage. */
  onStateChange?: (to: CircuitState, from: CircuitState) => void;
}

/** Thrown instead of attempting a call while the circuit is open. No network call was made. */
export const CircuitOpenError = createError<[string, number]>(
  'CIRCUIT_OPEN',
  'federation offline: %s (circuit open, next probe in %s ms)',
  503,
  'the peer failed repeatedly; it is retried automatically after the cooldown — check `mosaic federation status`',
);

/**
 * A per-peer circuit breaker: N consecutive failures open it for a cooldown, during which
 * calls fail fast; then exactly one probe is let through (half-open) and its outcome closes
 * or re-opens the circuit.
 *
 * @example
 * const breaker = new CircuitBreaker('work');
 * const caps = await breaker.run(() => client.capabilities());
 */
export class CircuitBreaker {
  readonly name: string;
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  private readonly now: () => number;
  private readonly onStateChange: ((to: CircuitState, from: CircuitState) => void) | undefined;
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probeInFlight = false;

  constructor(name: string, options: CircuitBreakerOptions = {}) {
    this.name = name;
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.onStateChange = options.onStateChange;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) throw new RangeError('failureThreshold must be a positive integer');
    if (!(this.cooldownMs >= 0)) throw new RangeError('cooldownMs must be >= 0');
  }

  /** The state as of now (an open circuit whose cooldown has passed reads as half-open). */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) return 'half_open';
    return this.current;
  }

  /** Consecutive failures counted so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until the next probe is allowed (0 when a call may go now). */
  retryInMs(): number {
    if (this.current !== 'open') return 0;
    return Math.max(0, this.openedAt + this.cooldownMs - this.now());
  }

  /**
   * Ask to make a call. Returns false while open (and while a half-open probe is already in
   * flight); the caller must then fail fast. A true answer in the half-open state reserves
   * the single probe: report its outcome with {@link success} or {@link failure}.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probeInFlight) return false;
    if (this.current === 'open') this.transition('half_open');
    this.probeInFlight = true;
    return true;
  }

  /** Record a successful call: closes the circuit and resets the failure count. */
  success(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  /** Record a failed call: a failed probe re-opens at once, otherwise the threshold decides. */
  failure(): void {
    this.failures += 1;
    const wasProbe = this.probeInFlight;
    this.probeInFlight = false;
    if (wasProbe || this.current === 'half_open' || (this.current === 'closed' && this.failures >= this.failureThreshold)) {
      this.openedAt = this.now();
      if (this.current !== 'open') this.transition('open');
    }
  }

  /**
   * Run `fn` through the breaker. `isFailure` decides which errors count against the peer
   * (default: all); errors that do not count still close a half-open circuit, because the
   * peer answered.
   */
  async run<T>(fn: () => Promise<T>, isFailure: (err: unknown) => boolean = () => true): Promise<T> {
    if (!this.tryAcquire()) throw new CircuitOpenError(this.name, this.retryInMs());
    try {
      const result = await fn();
      this.success();
      return result;
    } catch (err) {
      if (isFailure(err)) this.failure();
      else this.success();
      throw err;
    }
  }

  /** Forget all failures and close the circuit (e.g. after the peer was re-enrolled). */
  reset(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    this.onStateChange?.(to, from);
  }
}
