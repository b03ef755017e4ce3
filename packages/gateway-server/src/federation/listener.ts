import { constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { baseFastifyOptions, installCommonHooks, loggablePath, sendError } from '../http.js';
import { idOnlyTracing, type Tracing, type TraceSpan } from '../tracing.js';
import { SocketRegistry, type SocketIdentity } from './sockets.js';

/** The prefix of every federation route. */
export const FEDERATION_PREFIX = '/api/federation/v1';

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
  /** Handshakes refused at `secureConnection`, by reason (for metrics). */
  readonly refused = { untrusted: 0, revoked: 0 };

  private constructor(options: FederationListenerOptions) {
    this.options = options;
    this.app = Fastify({
      ...baseFastifyOptions(),
      loggerInstance: options.logger,
      forceCloseConnections: 'idle',
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
    installCommonHooks(app, { notFound: false });
    app.decorateRequest('peer', null);
    app.decorateRequest('span', null);
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
    this.server.setSecureContext(federationTlsOptions({ ...this.options.tls, certPem, keyPem }));
  }

  /** Stop accepting, close idle keep-alive sockets at once, let in-flight requests finish. */
  async close(): Promise<void> {
    await this.app.close();
  }
}

/** True when the client sent a certificate (Node returns `{}` — truthy — when it did not). */
function presentedCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate(false) as { raw?: Buffer } | null;
  return cert !== null && cert.raw !== undefined && cert.raw.length > 0;
}
