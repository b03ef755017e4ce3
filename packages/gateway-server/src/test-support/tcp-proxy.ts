/**
 * A TCP proxy for tests of the requesting side: it sits in front of a gateway's federation
 * port (TLS passes through untouched) and **counts every connection attempt** it accepts, so
 * a test can prove that no connection was even tried (an open circuit). Per connection it
 * forwards, resets (what a dead or refusing peer looks like), or holds it silent (a hung peer).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** What the proxy does with the n-th accepted connection (1-based). */
export type ProxyAction = 'forward' | 'reset' | 'hang';

export interface TcpProxy {
  /** Connections accepted so far. */
  readonly accepted: number;
  /** The listening port (on 127.0.0.1). */
  readonly port: number;
  /** `https://localhost:<port>`: a name the serving gateway's certificate carries. */
  readonly url: string;
  /** What to do with connections from now on. */
  mode: ProxyAction | ((n: number) => ProxyAction);
  /** Close every connection open now (keep-alive ones included); later ones follow `mode`. */
  cut(): void;
  /** Rewrite a URL of the target (enrollment URL) to go through the proxy. */
  via(url: string): string;
  close(): Promise<void>;
}

/** Start a proxy on 127.0.0.1 forwarding to `target` (`https://host:port` or `{ host, port }`). */
export async function startTcpProxy(target: string | { host: string; port: number }, mode: TcpProxy['mode'] = 'forward'): Promise<TcpProxy> {
  const t = typeof target === 'string' ? { host: '127.0.0.1', port: Number(new URL(target).port) } : target;
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const action = typeof proxy.mode === 'function' ? proxy.mode(accepted) : proxy.mode;
    if (action === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (action === 'hang') return;
    const upstream = connect(t.port, t.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: TcpProxy = {
    get accepted() {
      return accepted;
    },
    port,
    url: `https://localhost:${port}`,
    mode,
    cut() {
      for (const s of sockets) s.destroy();
    },
    via: (url) => url.replace(/:\/\/[^/]+/, `://localhost:${port}`),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
