import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError, type CircuitState } from './breaker.js';

function setup(options: { failureThreshold?: number; cooldownMs?: number } = {}) {
  let t = 1_000_000;
  const changes: Array<[CircuitState, CircuitState]> = [];
  const breaker = new CircuitBreaker('work', { ...options, now: () => t, onStateChange: (to, from) => changes.push([to, from]) });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

const fail = () => Promise.reject(new Error('other side closed'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreaker', () => {
  it('opens after 5 consecutive failures and then fails fast without calling', async () => {
    const { breaker, changes } = setup();
    for (let i = 0; i < 4; i++) await expect(breaker.run(fail)).rejects.toThrow('other side closed');
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(fail)).rejects.toThrow('other side closed');
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([['open', 'closed']]);

    let calls = 0;
    const err = await breaker.run(() => { calls++; return ok(); }).catch((e: unknown) => e);
    expect(calls).toBe(0);
    expect(CircuitOpenError.is(err)).toBe(true);
    expect((err as Error).message).toContain('federation offline: work');
  });

  it('a success in between resets the count of consecutive failures', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 4; i++) await breaker.run(fail).catch(() => undefined);
    await breaker.run(ok);
    expect(breaker.consecutiveFailures).toBe(0);
    for (let i = 0; i < 4; i++) await breaker.run(fail).catch(() => undefined);
    expect(breaker.state).toBe('closed');
  });

  it('lets exactly one probe through after the cooldown and closes on its success', async () => {
    const { breaker, changes, advance } = setup({ cooldownMs: 30_000 });
    for (let i = 0; i < 5; i++) await breaker.run(fail).catch(() => undefined);
    advance(29_999);
    expect(breaker.state).toBe('open');
    expect(breaker.retryInMs()).toBe(1);
    advance(1);
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true); // the probe
    expect(breaker.tryAcquire()).toBe(false); // a second caller while the probe is out
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(changes.map(([to]) => to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed probe re-opens for a full cooldown', async () => {
    const { breaker, advance } = setup({ cooldownMs: 1_000 });
    for (let i = 0; i < 5; i++) await breaker.run(fail).catch(() => undefined);
    advance(1_000);
    await expect(breaker.run(fail)).rejects.toThrow();
    expect(breaker.state).toBe('open');
    expect(breaker.retryInMs()).toBe(1_000);
  });

  it('errors that do not count as failures still close a half-open circuit (the peer answered)', async () => {
    const { breaker, advance } = setup({ failureThreshold: 1, cooldownMs: 10 });
    await breaker.run(fail).catch(() => undefined);
    expect(breaker.state).toBe('open');
    advance(10);
    const notFound = Object.assign(new Error('404'), { status: 404 });
    await expect(breaker.run(() => Promise.reject(notFound), (e) => (e as { status?: number }).status !== 404)).rejects.toBe(notFound);
    expect(breaker.state).toBe('closed');
  });

  it('reset closes an open circuit and validates its options', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await breaker.run(fail).catch(() => undefined);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.retryInMs()).toBe(0);
    expect(() => new CircuitBreaker('x', { failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker('x', { cooldownMs: -1 })).toThrow(RangeError);
  });
});
