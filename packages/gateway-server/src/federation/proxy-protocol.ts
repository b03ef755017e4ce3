/**
 * PROXY protocol v2 on the federation listener, accepted only from configured load-balancer
 * addresses (`MOSAIC_PROXY_PROTOCOL_FROM`).
 *
 * HAProxy passes TLS through (mode tcp), so without it every peer behind it shares HAProxy's
 * address — and so the per-address budget of audited anonymous refusals (verbs.ts). With
 * `send-proxy-v2` HAProxy opens each connection to a replica with a binary header naming the
 * client's address; the listener reads it *before* the TLS handshake and hands the rest of the
 * bytes to TLS untouched.
 *
 * Trust is by the connecting address only: a connection from a configured address must start
 * with a valid v2 header (else it is closed); a connection from anywhere else is TLS as usual —
 * a header sent by anyone else is not read, it just fails the handshake. So a client can never
 * claim another address unless it is the load balancer.
 *
 * @example
 * const proxy = acceptProxyProtocol(httpsServer, { from: ['10.0.0.5'], logger });
 * proxy.clientAddress(req.socket); // the peer's address, not HAProxy's
 */
import { isIP, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { codedError } from '@mosaic/federation-core';

/** The 12-byte signature every v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** Longest header accepted (16 fixed bytes + addresses + TLVs); HAProxy's plain header is 28 or 52 bytes. */
const MAX_HEADER = 16 + 1024;

/** A parsed header: its length in bytes, and the client's address (null: `LOCAL`, e.g. a health check, or an unspecified family). */
export interface ProxyV2Header {
  readonly length: number;
  readonly source: { readonly address: string; readonly port: number } | null;
}

/**
 * One spelling per address: IPv6 in RFC 5952 form (lower case, longest zero run as `::`), an
 * IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, `::ffff:102:304`) as the IPv4 address; anything
 * that is not an IP address as it is, lower-cased.
 */
export function normalizeAddress(address: string): string {
  if (isIPv6(address)) {
    // A zone (`fe80::1%eth0`, link-local) is not part of a URL host: kept as written, lower-cased.
    if (address.includes('%')) return address.toLowerCase();
    // WHATWG URL serialises IPv6 hosts in RFC 5952 form, mapped addresses as ::ffff:hhhh:hhhh
    const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped === null) return host;
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return address.toLowerCase();
}

/**
 * The key of an address's budget of audited anonymous refusals: an IPv4 address, or an IPv6
 * address's /64 — whoever holds one IPv6 address usually holds its whole /64, and must not get
 * a fresh budget per address.
 */
export function anonymousBudgetKey(address: string): string {
  const a = normalizeAddress(address);
  if (!isIPv6(a)) return `addr:${a}`;
  const [head = '', tail] = a.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `net6:${groups.slice(0, 4).join(':')}::/64`;
}

function ipv6(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  // the longest run of two or more zero groups becomes "::" (RFC 5952)
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at === -1) return normalizeAddress(hex.join(':'));
  return normalizeAddress(`${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`);
}

/**
 * Parse a PROXY protocol v2 header at the start of `buf`: the header, `'incomplete'` (more bytes
 * needed), or what is wrong with it.
 */
export function parseProxyV2(buf: Buffer): ProxyV2Header | 'incomplete' | { readonly error: string } {
  const sig = Math.min(buf.length, PROXY_V2_SIGNATURE.length);
  if (!buf.subarray(0, sig).equals(PROXY_V2_SIGNATURE.subarray(0, sig))) return { error: 'the connection did not start with a PROXY protocol v2 header' };
  if (buf.length < 16) return 'incomplete';
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { error: `PROXY protocol version ${verCmd >> 4} (only v2 is accepted)` };
  const command = verCmd & 0x0f;
  if (command > 1) return { error: `PROXY protocol v2 command ${command} is unknown` };
  const family = buf[13]!;
  const length = 16 + buf.readUInt16BE(14);
  if (length > MAX_HEADER) return { error: `PROXY protocol v2 header of ${length} bytes is too long` };
  if (buf.length < length) return 'incomplete';
  if (command === 0) return { length, source: null }; // LOCAL: the balancer's own connection
  switch (family) {
    case 0x00:
      return { length, source: null };
    case 0x11: // TCP over IPv4
      if (length < 16 + 12) return { error: 'PROXY protocol v2 header too short for IPv4 addresses' };
      return { length, source: { address: [...buf.subarray(16, 20)].join('.'), port: buf.readUInt16BE(24) } };
    case 0x21: // TCP over IPv6
      if (length < 16 + 36) return { error: 'PROXY protocol v2 header too short for IPv6 addresses' };
      return { length, source: { address: ipv6(buf.subarray(16, 32)), port: buf.readUInt16BE(48) } };
    default:
      return { error: `PROXY protocol v2 address family 0x${family.toString(16).padStart(2, '0')} is not TCP` };
  }
}

/**
 * The load-balancer addresses of `MOSAIC_PROXY_PROTOCOL_FROM`: comma-separated IP addresses.
 * Empty or unset: none (no PROXY protocol).
 *
 * @throws VALIDATION_FAILED naming the entry that is not an IP address
 */
export function parseProxyProtocolFrom(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((raw) => {
    const entry = raw.trim();
    if (isIP(entry) === 0) {
      throw codedError('VALIDATION_FAILED', `MOSAIC_PROXY_PROTOCOL_FROM: "${entry.slice(0, 64)}" is not an IP address`, {
        remediation: 'list the load balancer addresses the replicas see, comma-separated, e.g. MOSAIC_PROXY_PROTOCOL_FROM=10.0.0.5,10.0.0.6',
      });
    }
    return normalizeAddress(entry);
  });
}

export interface ProxyProtocolOptions {
  /** Addresses that must send a v2 header (and only they may). */
  readonly from: readonly string[];
  readonly logger: Logger;
  /** How long a trusted connection may take to send its header (ms, default 5 000). */
  readonly headerTimeoutMs?: number;
}

export interface ProxyProtocol {
  /** The client's address for a connection (the header's source; else the socket's own). */
  clientAddress(socket: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined }): string | undefined;
  /** Connections from a trusted address closed for a missing or invalid header. */
  readonly refused: number;
}

/**
 * Read PROXY protocol v2 headers on `server` (a `tls.Server`/`https.Server`) from the addresses
 * in `from`, before TLS sees the connection.
 */
export function acceptProxyProtocol(server: Server, options: ProxyProtocolOptions): ProxyProtocol {
  const trusted = new Set(options.from.map(normalizeAddress));
  const timeoutMs = options.headerTimeoutMs ?? 5_000;
  // The TLS server's own listener: it wraps the socket in TLS. We call it once the header is read.
  const tlsListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const handOver = (socket: Socket) => {
    for (const l of tlsListeners) l.call(server, socket);
  };
  const key = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`;
  // by the balancer's side of the connection; an entry is removed only by the socket that made
  // it (a port reused before the old socket's 'close' must not lose the new connection's entry)
  const sources = new Map<string, { readonly socket: Socket; readonly address: string }>();
  let refused = 0;
  let lastWarned = -Infinity;

  server.on('connection', (socket: Socket) => {
    if (!trusted.has(normalizeAddress(socket.remoteAddress ?? ''))) {
      handOver(socket);
      return;
    }
    let buf: Buffer = Buffer.alloc(0);
    const fail = (why: string) => {
      refused++;
      // warn, at most once a minute: a balancer without send-proxy-v2 (or a wrong address in
      // MOSAIC_PROXY_PROTOCOL_FROM) drops all its traffic, which must not go unnoticed
      const now = Date.now();
      if (now - lastWarned >= 60_000) {
        lastWarned = now;
        options.logger.warn({ remote: socket.remoteAddress, reason: why, refusedSoFar: refused }, 'load balancer connection without a valid PROXY protocol v2 header closed (is send-proxy-v2 set, and MOSAIC_PROXY_PROTOCOL_FROM right?)');
      } else options.logger.debug({ remote: socket.remoteAddress, reason: why }, 'load balancer connection without a valid PROXY header closed');
      socket.destroy();
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      fail(`no PROXY protocol v2 header within ${timeoutMs} ms`);
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.on('error', () => undefined);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const header = parseProxyV2(buf);
      if (header === 'incomplete') return;
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      if ('error' in header) {
        fail(header.error);
        return;
      }
      if (header.source !== null) {
        const k = key(socket);
        sources.set(k, { socket, address: normalizeAddress(header.source.address) });
        socket.once('close', () => {
          if (sources.get(k)?.socket === socket) sources.delete(k);
        });
      }
      // what followed the header (the TLS ClientHello) goes back for TLS to read
      const rest = buf.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      handOver(socket);
    };
    socket.on('data', onData);
  });

  return {
    clientAddress: (socket) => sources.get(key(socket))?.address ?? socket.remoteAddress,
    get refused() {
      return refused;
    },
  };
}
