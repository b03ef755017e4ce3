import { describe, expect, it, vi } from 'vitest';
import type { AdminClient } from '@mosaic/federation-core/admin-client';
import type { Peer } from '@mosaic/federation-core';
import { cancelledMessage, enrollPeer } from './enroll.js';

const BODY = { enrollmentUrl: 'https://w/api/federation/v1/enroll/' + 'k'.repeat(43), caPin: 'sha256:' + 'a'.repeat(64) };

/** An admin client whose addPeer answers when the test says so. */
function fakeAdmin(answer: () => Promise<Peer>) {
  const removePeer = vi.fn(() => Promise.resolve({ removed: 'work' }));
  return { admin: { addPeer: vi.fn(answer), removePeer } as unknown as AdminClient, removePeer };
}

describe('enrollPeer: Ctrl-C while the gateway enrolls leaves nothing stored', () => {
  it('no interruption: the peer', async () => {
    const { admin, removePeer } = fakeAdmin(() => Promise.resolve({ name: 'work' } as Peer));
    expect(await enrollPeer(admin, BODY)).toEqual({ kind: 'added', peer: { name: 'work' } });
    expect(removePeer).not.toHaveBeenCalled();
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('Ctrl-C, then the gateway finishes the enrollment: the peer is removed again; the token is spent', async () => {
    let finish!: (p: Peer) => void;
    const { admin, removePeer } = fakeAdmin(() => new Promise<Peer>((r) => (finish = r)));
    const onInterrupt = vi.fn();
    const pending = enrollPeer(admin, BODY, { onInterrupt });
    await Promise.resolve();
    process.emit('SIGINT', 'SIGINT');
    expect(onInterrupt).toHaveBeenCalledOnce();
    finish({ name: 'work' } as Peer);
    const outcome = await pending;
    expect(outcome).toEqual({ kind: 'cancelled', spent: true, peerName: 'work' });
    expect(removePeer).toHaveBeenCalledWith('work');
    expect(cancelledMessage(outcome as never)).toMatch(/token is spent; peer "work" was removed again and nothing is stored/);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('Ctrl-C, then the enrollment fails: cancelled, nothing to undo', async () => {
    let fail!: (e: Error) => void;
    const { admin, removePeer } = fakeAdmin(() => new Promise<Peer>((_, r) => (fail = r)));
    const pending = enrollPeer(admin, BODY);
    await Promise.resolve();
    process.emit('SIGTERM', 'SIGTERM');
    fail(Object.assign(new Error('x'), { code: 'PIN_MISMATCH' }));
    expect(await pending).toEqual({ kind: 'cancelled', spent: false });
    expect(removePeer).not.toHaveBeenCalled();
    expect(cancelledMessage({ kind: 'cancelled', spent: false })).toBe('Cancelled: nothing was stored.');
  });

  it('an error without interruption is thrown as it is', async () => {
    const { admin } = fakeAdmin(() => Promise.reject(Object.assign(new Error('used'), { code: 'TOKEN_USED' })));
    await expect(enrollPeer(admin, BODY)).rejects.toMatchObject({ code: 'TOKEN_USED' });
  });

  it('when removing after a late Ctrl-C fails, it says what to remove', async () => {
    let finish!: (p: Peer) => void;
    const admin = { addPeer: () => new Promise<Peer>((r) => (finish = r)), removePeer: () => Promise.reject(new Error('gateway gone')) } as unknown as AdminClient;
    const pending = enrollPeer(admin, BODY);
    await Promise.resolve();
    process.emit('SIGINT', 'SIGINT');
    finish({ name: 'work' } as Peer);
    await expect(pending).rejects.toMatchObject({ code: 'PEER_CANCEL_INCOMPLETE', remediation: 'remove it yourself: mosaic federation peer remove work --yes' });
  });
});
