/**
 * The store's half of peer renewal (migration 2): the claim that keeps two replicas from
 * renewing one peer at once, the compare-and-swap of the certificate, and the failure streak
 * that a successful read does not end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachEngine } from '../test-support/engines.js';
import type { NewPeer, Storage } from './index.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const DAY = 86_400_000;

const peer = (name: string): NewPeer => ({
  name,
  endpoint: 'https://work.example:8443',
  localUserId: 'alice',
  grantId: '00000000-0000-4000-8000-000000009999',
  subjectUserId: 'alice',
  caCertPem: 'CA',
  caPin: `sha256:${'ab'.repeat(32)}`,
  certPem: 'LEAF',
  sealedKey: 'v1.kid.sealed',
  certSerial: '01f2',
  certNotBefore: T0,
  certNotAfter: at(30 * DAY),
});

const NEW_CERT = { certPem: 'NEW', sealedKey: 'v1.kid.new', certSerial: '0beef', certNotBefore: at(20 * DAY), certNotAfter: at(50 * DAY) };

describeEachEngine('peers: renewal claims and the failure streak', (engine) => {
  let s: Storage;
  beforeAll(async () => {
    s = await engine.open({ clock: () => T0 });
  });

  it('a new peer has no streak, no retry time and no claim', async () => {
    const p = await s.peers.insert(peer('fresh'));
    expect(p).toMatchObject({ renewalFailedSince: null, renewalFailures: 0, renewalRetryAt: null });
  });

  it('one claim at a time: of 20 concurrent claims exactly one wins; a lapsed lease can be claimed again', async () => {
    await s.peers.insert(peer('race'));
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.peers.claimRenewal('race', { token: `t${i}`, serial: '01F2', until: at(60_000), at: at(0) })),
    );
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    // still held a second later; free once the lease is over
    expect(await s.peers.claimRenewal('race', { token: 'late', serial: '01f2', until: at(120_000), at: at(1_000) })).toBeNull();
    expect(await s.peers.claimRenewal('race', { token: 'after', serial: '01f2', until: at(200_000), at: at(60_000) })).not.toBeNull();
  });

  it('a claim names the certificate: once another replica swapped it, the old serial cannot be claimed; a revoked peer never', async () => {
    await s.peers.insert(peer('cas'));
    expect(await s.peers.claimRenewal('cas', { token: 'a', serial: '01f2', until: at(60_000), at: at(0) })).not.toBeNull();
    const done = await s.peers.completeRenewal('cas', '01f2', NEW_CERT, at(1_000));
    expect(done).toMatchObject({ certSerial: 'beef', certPem: 'NEW', renewalFailures: 0, renewalFailedSince: null });
    expect(await s.peers.claimRenewal('cas', { token: 'b', serial: '01f2', until: at(60_000), at: at(2_000) })).toBeNull();
    // the completion dropped the claim: the new certificate can be claimed at once
    expect(await s.peers.claimRenewal('cas', { token: 'c', serial: 'beef', until: at(60_000), at: at(2_000) })).not.toBeNull();
    // a second completion against the old serial changes nothing
    expect(await s.peers.completeRenewal('cas', '01f2', { ...NEW_CERT, certSerial: '0c0de' })).toBeNull();
    expect((await s.peers.get('cas'))?.certSerial).toBe('beef');
    await s.peers.releaseRenewal('cas', 'c');
    await s.peers.setState('cas', 'revoked');
    expect(await s.peers.claimRenewal('cas', { token: 'd', serial: 'beef', until: at(60_000), at: at(3_000) })).toBeNull();
  });

  it('a failed renewal degrades the peer and starts a streak that reads do not end; the job waits for its retry time; a renewal ends it', async () => {
    await s.peers.insert(peer('streak'));
    expect(await s.peers.claimRenewal('streak', { token: 'x', serial: '01f2', until: at(60_000), at: at(0) })).not.toBeNull();
    const first = await s.peers.recordRenewalFailure('streak', 'x', { error: 'renewal failed: work: unreachable', retryAt: at(300_000), at: at(1_000) });
    expect(first).toMatchObject({ state: 'degraded', renewalFailedSince: at(1_000).toISOString(), renewalFailures: 1, renewalRetryAt: at(300_000).toISOString(), lastError: 'renewal failed: work: unreachable' });
    // a read that worked: recorded, but the peer stays degraded
    expect(await s.peers.recordSuccess('streak', { at: at(2_000) })).toMatchObject({ state: 'degraded', lastSuccessAt: at(2_000).toISOString(), renewalFailedSince: at(1_000).toISOString() });
    // the job respects the retry time, a person does not
    expect(await s.peers.claimRenewal('streak', { token: 'job', serial: '01f2', until: at(400_000), at: at(3_000), respectRetry: true })).toBeNull();
    expect(await s.peers.claimRenewal('streak', { token: 'y', serial: '01f2', until: at(400_000), at: at(3_000) })).not.toBeNull();
    // a failure recorded by someone who lost the claim writes nothing
    expect(await s.peers.recordRenewalFailure('streak', 'x', { error: 'stale', retryAt: null, at: at(4_000) })).toBeNull();
    const second = await s.peers.recordRenewalFailure('streak', 'y', { error: 'renewal failed: again', retryAt: at(900_000), at: at(5_000) });
    expect(second).toMatchObject({ renewalFailedSince: at(1_000).toISOString(), renewalFailures: 2 });
    expect(await s.peers.claimRenewal('streak', { token: 'job2', serial: '01f2', until: at(1_000_000), at: at(900_000), respectRetry: true })).not.toBeNull();
    const renewed = await s.peers.completeRenewal('streak', '01f2', NEW_CERT, at(901_000));
    expect(renewed).toMatchObject({ state: 'active', renewalFailedSince: null, renewalFailures: 0, renewalRetryAt: null, certSerial: 'beef' });
    // an ordinary degraded peer (no streak) still heals on a read
    await s.peers.recordFailure('streak', { error: 'GRANT_EXPIRED', state: 'degraded' });
    expect((await s.peers.recordSuccess('streak')).state).toBe('active');
  });

  describe('a revoked peer stays revoked through a failed renewal', () => {
    it('keeps its state', async () => {
      await s.peers.insert(peer('rev'));
      expect(await s.peers.claimRenewal('rev', { token: 'r', serial: '01f2', until: at(60_000), at: at(0) })).not.toBeNull();
      await s.peers.setState('rev', 'revoked');
      expect((await s.peers.recordRenewalFailure('rev', 'r', { error: 'refused', retryAt: null }))?.state).toBe('revoked');
    });
  });
});
