import { constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { baseFastifyOptions, installCommonHooks, loggablePath, sendError } from '../http.js';
import { idOnlyTracing, type Tracing, type TraceSpan } from '../tracing.js';
import { acceptProxyProtocol, type ProxyProtocol } from './proxy-protocol.js';
import { SocketRegistry, type SocketIdentity } from './sockets.js';

/** The prefix of every federation route. */
export const FEDERATION_PREFIX = '/api/federation/v1';

/**
 * At shutdown, a keep-alive connection with no request for this long is closed (ms); a busy one
 * is closed right after its next answer (`Connection: close`), so a client never loses a request
 * it sent on a connection the server was closing at that moment (the keep-alive race).
 */
export const DRAIN_IDLE_MS = 250;

export interface FederationTls {
  certPem: string;
  keyPem: string;
  /** Our CA: the only issuer whose client certificates are accepted. */
  caPem: string;
}

export interface FederationListenerOptions {
  tls: FederationTls;
  logger: Logger;
  /** True when a serial has been revoked (checked at every handshake, from memory). */
  isSerialRevoked: (serialHex: string) => boolean;
  /**
   * Step-CA mode: whether a verified client certificate (DER, with the issuer the TLS layer
   * verified it with) is one this gateway obtained itself. When set, a presented certificate
   * it refuses ends the connection at the handshake, whatever identity it carries — a
   * certificate under a shared root never reaches a route, public ones included.
   */
  acceptsCertificate?: (leafDer: Uint8Array, issuerDer: Uint8Array | undefined) => boolean;
  /** Routes to register (public and mTLS), given the socket registry. */
  routes: (app: FastifyInstance, sockets: SocketRegistry) => void | Promise<void>;
  /**
   * How a request the listener refuses itself (401: no certificate, or a certificate whose
   * Mosaic identity is invalid; 404: no such route) is answered. The verbs supply one that audits the refusal
   * first, so every federation request — refused ones included — is one audit row. Called
   * lazily: it may be set up by `routes`. Default: a plain error envelope.
   */
  refuse?: () => RefusalHandler | undefined;
  /** Spans: one SERVER span per request, continuing the caller's valid `traceparent` (default: ids only). */
  tracing?: Tracing;
  /**
   * Load-balancer addresses whose connections start with a PROXY protocol v2 header naming the
   * client (`MOSAIC_PROXY_PROTOCOL_FROM`; proxy-protocol.ts). Default none.
   */
  proxyProtocolFrom?: readonly string[];
}

/** A refusal decided by the listener itself: before any route (401), or no such route (404). */
export interface ListenerRefusal {
  status: 401 | 404;
  code: 'CLIENT_CERT_REQUIRED' | 'IDENTITY_INVALID' | 'ROUTE_NOT_FOUND';
  message: string;
  remediation?: string;
}

export type RefusalHandler = (req: FastifyRequest, reply: FastifyReply, refusal: ListenerRefusal) => Promise<FastifyReply>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a client certificate (enroll, ca, crl). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The caller's identity, from its TLS socket (never from the request). */
    peer: Extract<SocketIdentity, { kind: 'peer' }> | null;
    /** This request's SERVER span (its trace id is the audit row's); ended when the answer is sent or the connection closes. */
    span: TraceSpan | null;
    /** The client's address: from the load balancer's PROXY protocol header when it sent one, else the socket's. */
    clientAddress: string | null;
  }
}

/** TLS settings of the federation listener: TLS 1.3 only, no session tickets, client certs requested but judged by us. */
export function federationTlsOptions(tls: FederationTls) {
  return {
    key: tls.keyPem,
    cert: tls.certPem,
    ca: [tls.caPem],
    requestCert: true,
    // The enrollment route must accept clients without a certificate; a certificate that was
    // presented and does not verify ends the connection in `secureConnection` below.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    // A resumed session carries the certificate it was made with: a revoked peer could come back.
    secureOptions: constants.SSL_OP_NO_TICKET,
    // HTTP/1.1 only: identity and per-request checks are written for one request per socket turn.
    ALPNProtocols: ['http/1.1'],
  };
}

/**
 * The federation listener: HTTPS, public and mTLS routes on one port (SECURITY.md's pattern).
 * An untrusted or revoked client certificate ends the connection right after the handshake,
 * before any request is read; identity is parsed once per socket.
 */
export class FederationListener {
  readonly app: FastifyInstance;
  readonly sockets = new SocketRegistry();
  private server!: Server;
  private readonly options: FederationListenerOptions;
  /** Handshakes refused at `secureConnection`, by reason (for metrics); `foreign`: chains to the root but not ours (Step-CA mode). */
  readonly refused = { untrusted: 0, revoked: 0, foreign: 0 };
  /** The TLS material in use (the server certificate and the client CAs change at runtime). */
  #tls: FederationTls;
  /** PROXY protocol v2 from the configured load balancers, when any are. */
  #proxy: ProxyProtocol | null = null;

  private constructor(options: FederationListenerOptions) {
    this.options = options;
    this.#tls = { ...options.tls };
    this.app = Fastify({
      ...baseFastifyOptions(),
      loggerInstance: options.logger,
      // The drain in `close()` ends connections itself: idle ones once idle for DRAIN_IDLE_MS,
      // busy ones after their answer; requests arriving meanwhile are served, not refused.
      forceCloseConnections: false,
      return503OnClosing: false,
      // A client dripping its request holds a socket at most this long (Node's default is 5 min).
      requestTimeout: 30_000,
      serverFactory: (handler) => {
        this.server = createServer(federationTlsOptions(options.tls), handler);
        return this.server;
      },
    }) as unknown as FastifyInstance;
  }

  static async create(options: FederationListenerOptions): Promise<FederationListener> {
    const listener = new FederationListener(options);
    await listener.setup();
    return listener;
  }

  private async setup(): Promise<void> {
    const { app, sockets, options } = this;
    // Before TLS: a configured load balancer's connections start with the client's address.
    if (options.proxyProtocolFrom !== undefined && options.proxyProtocolFrom.length > 0) {
      this.#proxy = acceptProxyProtocol(this.server, { from: options.proxyProtocolFrom, logger: options.logger });
    }
    // Prepended, so it runs before the HTTP server's own listener: under TLS 1.3 a client's
    // first request arrives in the same flight as its Finished message, and with a plain `on`
    // that request was already being parsed when the socket was destroyed.
    this.server.prependListener('secureConnection', (socket: TLSSocket) => {
      // A peer resetting the connection must never surface as an uncaught error: this runs
      // before the HTTP server attaches its own handler (and alone, for a socket destroyed here).
      socket.on('error', (err: Error) => options.logger.debug({ err: err.message }, 'federation socket error'));
      if (!socket.authorized) {
        if (presentedCertificate(socket)) {
          this.refused.untrusted++;
          socket.destroy();
          return;
        }
      } else if (options.acceptsCertificate !== undefined) {
        const cert: DetailedPeerCertificate | null = socket.getPeerCertificate(true);
        const issuer = cert?.issuerCertificate as DetailedPeerCertificate | undefined;
        if (cert?.raw === undefined || !options.acceptsCertificate(cert.raw, issuer?.raw)) {
          this.refused.foreign++;
          socket.destroy();
          return;
        }
      }
      const identity = sockets.classify(socket);
      if (identity.kind === 'peer' && options.isSerialRevoked(identity.serialHex)) {
        this.refused.revoked++;
        socket.destroy();
      }
    });
    this.server.on('tlsClientError', (err, socket) => {
      options.logger.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
    // Connection bookkeeping for the drain at shutdown (see close()).
    this.server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.destroyed) return;
      this.#connections.set(socket, { busy: 0, idleSince: performance.now() });
      socket.once('close', () => this.#connections.delete(socket));
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const c = this.#connections.get(req.socket);
      if (c === undefined) return;
      c.busy++;
      if (this.#draining && !res.headersSent) res.setHeader('connection', 'close');
      res.once('close', () => {
        c.busy--;
        c.idleSince = performance.now();
      });
    });
    app.addHook('onSend', async (_req, reply) => {
      if (this.#draining) void reply.header('connection', 'close');
    });
    installCommonHooks(app, { notFound: false });
    app.decorateRequest('peer', null);
    app.decorateRequest('span', null);
    app.decorateRequest('clientAddress', null);
    const tracing = options.tracing ?? idOnlyTracing();
    // Before any refusal: every request, refused ones included, is one span. Named by the route's
    // pattern (never a path's values: the enrollment token, a row id).
    app.addHook('onRequest', async (req, reply) => {
      const pattern = req.routeOptions.url;
      const route = pattern !== undefined && pattern !== '*' && pattern !== '/*' ? pattern : undefined;
      const span = tracing.startServerSpan(route === undefined ? req.method : `${req.method} ${route}`, req.traceparent, {
        'http.request.method': req.method,
        'http.route': route,
      });
      req.span = span;
      req.clientAddress = this.#proxy?.clientAddress(req.socket) ?? req.socket.remoteAddress ?? null;
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) {
          span.end('error', {}, 'the connection closed before the answer was sent');
          return;
        }
        const status = reply.raw.statusCode;
        span.end(status >= 500 ? 'error' : 'unset', { 'http.response.status_code': status });
      });
    });
    app.addHook('onRequest', async (req, reply) => {
      const identity = sockets.identityOf(req.socket as TLSSocket);
      if (identity.kind === 'peer') {
        req.peer = identity;
        const socket = req.socket as TLSSocket;
        sockets.requestStarted(socket);
        reply.raw.once('close', () => sockets.requestFinished(socket));
        return;
      }
      if (req.routeOptions.config.public === true) return;
      const refusal: ListenerRefusal =
        identity.kind === 'invalid'
          ? {
              status: 401,
              code: 'IDENTITY_INVALID',
              message: `the client certificate's Mosaic identity is not valid (${identity.code})`,
              remediation: 'ask the serving admin for a re-enrollment token (`grant token --reenroll`)',
            }
          : {
              status: 401,
              code: 'CLIENT_CERT_REQUIRED',
              message: 'this route needs a client certificate issued by this gateway',
              remediation: 'enroll first: `mosaic federation peer add <enrollment url>` on the requesting gateway',
            };
      return this.#refuse(req, reply, refusal);
    });
    app.setNotFoundHandler((req, reply) => this.#refuse(req, reply, { status: 404, code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${loggablePath(req)}` }));
    await options.routes(app, sockets);
  }

  #refuse(req: FastifyRequest, reply: FastifyReply, refusal: ListenerRefusal): FastifyReply | Promise<FastifyReply> {
    const handler = this.options.refuse?.();
    if (handler !== undefined) return handler(req, reply, refusal);
    return sendError(reply, req, refusal.status, refusal.code, refusal.message, { remediation: refusal.remediation });
  }

  /** Start listening; resolves with the bound address. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    await this.app.listen({ host, port, listenTextResolver: (address) => `federation listener on ${address.replace(/^http:/, 'https:')}` });
    return this.server.address() as AddressInfo;
  }

  /** Swap the server certificate (renewal or new SANs); open connections keep theirs. */
  setServerCertificate(certPem: string, keyPem: string): void {
    this.#tls = { ...this.#tls, certPem, keyPem };
    this.server.setSecureContext(federationTlsOptions(this.#tls));
  }

  /** Swap the CA certificates client certificates are verified against (Step-CA rotated its intermediate); open connections keep theirs. */
  setClientCa(caPem: string): void {
    this.#tls = { ...this.#tls, caPem };
    this.server.setSecureContext(federationTlsOptions(this.#tls));
  }

  /**
   * Drain, then stop: stop accepting at once (a load balancer's connect is refused and retried
   * on another replica); every answer from now on carries `Connection: close`; a connection
   * idle for {@link DRAIN_IDLE_MS} is closed. Resolves once every connection has ended (the
   * gateway's shutdown deadline cuts what is left).
   */
  async close(): Promise<void> {
    if (this.#draining) return this.#closed;
    this.#draining = true;
    // http.Server#close closes idle keep-alive sockets at once (Node ≥ 19): a client may be
    // sending its next request on one at that very moment, and that request would be lost.
    this.server.closeIdleConnections = () => undefined;
    const timer = setInterval(() => this.#closeIdle(), 25);
    timer.unref();
    this.#closed = this.app.close().finally(() => clearInterval(timer));
    this.#closeIdle();
    return this.#closed;
  }

  #draining = false;
  #closed: Promise<void> = Promise.resolve();
  /** Per connection: requests in flight and when it last went idle. */
  readonly #connections = new Map<Socket, { busy: number; idleSince: number }>();

  #closeIdle(): void {
    const now = performance.now();
    for (const [socket, c] of this.#connections) {
      if (c.busy === 0 && now - c.idleSince >= DRAIN_IDLE_MS) socket.destroy();
    }
  }
}

/** True when the client sent a certificate (Node returns `{}` — truthy — when it did not). */
function presentedCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate(false) as { raw?: Buffer } | null;
  return cert !== null && cert.raw !== undefined && cert.raw.length > 0;
}
