import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { codedError } from '@mosaic/federation-core';
import { isLoopback } from '../config.js';
import { baseFastifyOptions, installCommonHooks, sendError } from '../http.js';
import type { AdminTokenVerifier } from './auth.js';
import type { Actor } from '../services/grants.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Name of the admin token that authenticated this request. */
    adminTokenName: string | null;
  }
  interface FastifyContextConfig {
    /** Reachable without an admin token (`/health`). */
    noAuth?: boolean;
  }
}

export interface AdminAppOptions {
  logger: Logger;
  verifier: AdminTokenVerifier;
  /** Called for each authenticated request, to record the token's last use. */
  onAuthenticated?: (tokenName: string) => void;
  /** TLS, when the admin API binds beyond loopback. */
  tls?: { certPem: string; keyPem: string } | null;
  routes: (app: FastifyInstance) => void | Promise<void>;
  /**
   * Accept only loopback `Host` headers (the admin API listens on loopback): a web page that
   * rebinds its own DNS name to 127.0.0.1 then gets nothing, not even `/health`.
   */
  loopbackOnly?: boolean;
}

/** The host name of a `Host` header (`127.0.0.1:8400`, `[::1]:8400`), lower case; '' when absent or malformed. */
function hostOf(header: string | undefined): string {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(:\d{1,5})?$/i.exec(header ?? '');
  return m?.[1]?.toLowerCase() ?? '';
}

/** Who made an admin request, for audit rows. */
export function actorOf(req: FastifyRequest): Actor {
  return {
    requestId: req.id,
    callerRequestId: req.callerRequestId,
    traceId: req.traceparent?.traceId ?? null,
    adminTokenName: req.adminTokenName,
  };
}

/**
 * The admin API: HTTP on loopback (HTTPS when it binds further), every route but `/health`
 * behind a named bearer token compared in constant time.
 */
export async function buildAdminApp(options: AdminAppOptions): Promise<FastifyInstance> {
  const tls = options.tls;
  const app = (
    tls
      ? Fastify({
          ...baseFastifyOptions(),
          loggerInstance: options.logger,
          forceCloseConnections: 'idle',
          serverFactory: (handler) => createHttpsServer({ key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2' }, handler),
        })
      : Fastify({ ...baseFastifyOptions(), loggerInstance: options.logger, forceCloseConnections: 'idle' })
  ) as unknown as FastifyInstance;
  installCommonHooks(app);
  app.decorateRequest('adminTokenName', null);
  app.addHook('onRequest', async (req, reply) => {
    if (options.loopbackOnly === true && !isLoopback(hostOf(req.headers.host))) {
      return sendError(reply, req, 421, 'MISDIRECTED_REQUEST', 'the admin API answers only to loopback host names', {
        remediation: 'call it as http://127.0.0.1:<port> (or localhost)',
      });
    }
    if (req.routeOptions.config.noAuth === true) return;
    const name = options.verifier.verify(req.headers.authorization);
    if (name === null) {
      return sendError(reply, req, 401, 'ADMIN_AUTH_REQUIRED', 'a valid admin token is required', {
        remediation: 'pass it with --token-file <file> or MOSAIC_ADMIN_TOKEN; the first one is in <data dir>/admin-token',
        headers: { 'www-authenticate': 'Bearer realm="mosaic-admin"' },
      });
    }
    req.adminTokenName = name;
    options.onAuthenticated?.(name);
  });
  // An admin body that is not an object is refused before any handler sees it.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.method !== 'GET' && req.method !== 'DELETE' && req.body !== undefined && (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))) {
      done(codedError('BODY_INVALID', 'the request body must be a JSON object'));
      return;
    }
    done();
  });
  await options.routes(app);
  return app;
}
