/**
 * PROXY protocol v2 on the federation listener: the parser, the configuration, and a real
 * gateway behind a (hand-written) load balancer at 127.0.0.2 — the client address it names is
 * the one the per-address audit budget of anonymous refusals counts; nobody else can claim one.
 */
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError } from '@mosaic/federation-core';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { anonymousBudgetKey, normalizeAddress, parseProxyProtocolFrom, parseProxyV2, PROXY_V2_SIGNATURE } from './proxy-protocol.js';
import { ANONYMOUS_AUDITED_PER_MINUTE } from './verbs.js';

/** A PROXY v2 header as HAProxy's `send-proxy-v2` writes it (TCP over IPv4 or IPv6). */
function header(source: string, sourcePort: number, dest: string, destPort: number, options: { command?: number; family?: number; tlv?: Buffer } = {}): Buffer {
  const v6 = source.includes(':');
  const addr = (a: string) =>
    v6
      ? Buffer.from(
          a
            .split(':')
            .flatMap((g, i, all) => (g === '' ? (i === 0 || i === all.length - 1 ? [] : Array<string>(8 - all.filter((x) => x !== '').length).fill('0')) : [g]))
            .flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]),
        )
      : Buffer.from(a.split('.').map(Number));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destPort, 2);
  const body = Buffer.concat([addr(source), addr(dest), ports, options.tlv ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | (options.command ?? 1);
  fixed[1] = options.family ?? (v6 ? 0x21 : 0x11);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

describe('parseProxyV2', () => {
  it('reads the client address of IPv4 and IPv6 headers, TLVs included, and LOCAL as no address', () => {
    const v4 = header('203.0.113.7', 50000, '10.0.0.11', 8443, { tlv: Buffer.from([0x04, 0x00, 0x01, 0x00]) });
    expect(parseProxyV2(Buffer.concat([v4, Buffer.from('rest')]))).toEqual({ length: v4.length, source: { address: '203.0.113.7', port: 50000 } });
    const v6 = header('2001:db8::7', 443, '2001:db8::1', 8443);
    expect(parseProxyV2(v6)).toEqual({ length: 52, source: { address: '2001:db8::7', port: 443 } });
    expect(parseProxyV2(header('10.0.0.5', 1, '10.0.0.11', 8443, { command: 0 }))).toEqual({ length: 28, source: null });
  });

  it('asks for more bytes until the header is complete, and names what is wrong otherwise', () => {
    const v4 = header('203.0.113.7', 50000, '10.0.0.11', 8443);
    for (const n of [1, 12, 15, 20, 27]) expect(parseProxyV2(v4.subarray(0, n))).toBe('incomplete');
    expect(parseProxyV2(Buffer.from([0x16, 0x03, 0x01]))).toEqual({ error: 'the connection did not start with a PROXY protocol v2 header' });
    expect(parseProxyV2(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'))).toHaveProperty('error');
    const v1 = Buffer.from(v4);
    v1[12] = 0x11;
    expect(parseProxyV2(v1)).toEqual({ error: 'PROXY protocol version 1 (only v2 is accepted)' });
    expect(parseProxyV2(header('203.0.113.7', 1, '10.0.0.11', 2, { family: 0x12 }))).toEqual({ error: 'PROXY protocol v2 address family 0x12 is not TCP' });
  });

  it('normalizes IPv4-mapped addresses', () => {
    expect(normalizeAddress('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
  });
});

describe('one spelling per address', () => {
  it('IPv6 in RFC 5952 form, IPv4-mapped forms (dotted or hex, also inside a v6 header) as IPv4', () => {
    expect(normalizeAddress('2001:DB8:0::5')).toBe('2001:db8::5');
    expect(normalizeAddress('::ffff:0a00:5')).toBe('10.0.0.5');
    expect(normalizeAddress('::FFFF:10.0.0.5')).toBe('10.0.0.5');
    expect(parseProxyV2(header('::ffff:102:304', 1, '::1', 8443))).toMatchObject({ source: { address: '1.2.3.4' } });
    expect(parseProxyProtocolFrom('2001:DB8:0::5,::ffff:0a00:6')).toEqual(['2001:db8::5', '10.0.0.6']);
    // a link-local address with its zone (as a socket may report it) never throws
    expect(normalizeAddress('FE80::1%eth0')).toBe('fe80::1%eth0');
    expect(anonymousBudgetKey('fe80::1%eth0')).toBe('net6:fe80:0:0:0::/64');
  });

  it('the audit budget of anonymous refusals is per IPv4 address, and per /64 for IPv6', () => {
    expect(anonymousBudgetKey('203.0.113.7')).toBe('addr:203.0.113.7');
    expect(anonymousBudgetKey('::ffff:203.0.113.7')).toBe('addr:203.0.113.7');
    expect(anonymousBudgetKey('2001:db8:1:2::1')).toBe('net6:2001:db8:1:2::/64');
    expect(anonymousBudgetKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('net6:2001:db8:1:2::/64');
    expect(anonymousBudgetKey('2001:db8:1:3::1')).toBe('net6:2001:db8:1:3::/64');
    expect(anonymousBudgetKey('::1')).toBe('net6:0:0:0:0::/64');
  });
});

describe('MOSAIC_PROXY_PROTOCOL_FROM', () => {
  it('is a comma-separated list of IP addresses; anything else is one clear error', () => {
    expect(parseProxyProtocolFrom(undefined)).toEqual([]);
    expect(parseProxyProtocolFrom(' ')).toEqual([]);
    expect(parseProxyProtocolFrom('10.0.0.5, ::ffff:10.0.0.6,2001:db8::5')).toEqual(['10.0.0.5', '10.0.0.6', '2001:db8::5']);
    let err: unknown;
    try {
      parseProxyProtocolFrom('10.0.0.5,haproxy.internal');
    } catch (e) {
      err = e;
    }
    expect(isMosaicError(err) && err.code).toBe('VALIDATION_FAILED');
    expect((err as Error).message).toBe('MOSAIC_PROXY_PROTOCOL_FROM: "haproxy.internal" is not an IP address');
  });

  it('a gateway started with a bad list refuses to start with that line', async () => {
    await expect(startTestGateway({ extraEnv: { MOSAIC_PROXY_PROTOCOL_FROM: 'lb' } })).rejects.toThrow('MOSAIC_PROXY_PROTOCOL_FROM: "lb" is not an IP address');
  });
});

describe('a gateway behind a load balancer at 127.0.0.2 (PROXY protocol v2)', () => {
  const LB = '127.0.0.2';
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    gw = await startTestGateway({ extraEnv: { MOSAIC_PROXY_PROTOCOL_FROM: LB } });
    port = Number(new URL(gw.gateway.publicUrl).port);
  }, 60_000);
  afterAll(cleanupTestGateways);

  /** One request without a client certificate (refused 401); `claim`: the PROXY header sent first. 0: no answer. */
  async function anonymous(from: string, claim?: string): Promise<number> {
    const raw = netConnect({ host: '127.0.0.1', port, localAddress: from });
    await once(raw, 'connect');
    if (claim !== undefined) raw.write(header(claim, 40000, claim.includes(':') ? '::1' : '127.0.0.1', port));
    const s = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.once('secureConnect', () => s.write('POST /api/federation/v1/list/tasks HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'));
    await closed;
    raw.destroy();
    const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
    return m ? Number(m[1]) : 0;
  }

  const unaudited = () => gw.gateway.metrics.refusalsUnaudited.values.size === 0 ? 0 : [...gw.gateway.metrics.refusalsUnaudited.values.values()].reduce((a, b) => a + b, 0);

  it('the budget of audited anonymous refusals is per client address named by the balancer, not per balancer', async () => {
    // client A (through the balancer) spends its budget ...
    for (let i = 0; i < ANONYMOUS_AUDITED_PER_MINUTE + 2; i++) expect(await anonymous(LB, '198.51.100.1')).toBe(401);
    const afterA = unaudited();
    expect(afterA).toBeGreaterThanOrEqual(1);
    // ... and client B, through the same balancer, still has its own
    for (let i = 0; i < 3; i++) expect(await anonymous(LB, '198.51.100.2')).toBe(401);
    expect(unaudited()).toBe(afterA);
  });

  it('addresses of one IPv6 /64 share a budget', async () => {
    const before = unaudited();
    for (let i = 0; i < ANONYMOUS_AUDITED_PER_MINUTE + 2; i++) expect(await anonymous(LB, `2001:db8:7:7::${(i + 1).toString(16)}`)).toBe(401);
    expect(unaudited()).toBeGreaterThanOrEqual(before + 1);
  });

  it('a connection from the balancer without a valid header is closed; nobody else can send one', async () => {
    expect(await anonymous(LB)).toBe(0);
    // from an address not in the list a header is not read: it breaks the TLS handshake
    expect(await anonymous('127.0.0.1', '198.51.100.3')).toBe(0);
    // and a client connecting directly is served as before
    expect(await anonymous('127.0.0.1')).toBe(401);
  });
});
