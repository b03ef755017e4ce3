import type { FastifyInstance } from 'fastify';
import type { GatewayCa } from '../ca/index.js';
import type { Metrics } from '../metrics.js';
import type { GrantService } from '../services/grants.js';
import { FEDERATION_PREFIX } from './listener.js';

export interface PublicRouteDeps {
  ca: GatewayCa;
  grants: GrantService;
  metrics: Metrics;
}

/** The routes reachable without a client certificate: the CA, the CRL, and enrollment. */
export function registerPublicRoutes(app: FastifyInstance, deps: PublicRouteDeps): void {
  const { ca, grants, metrics } = deps;

  app.get(`${FEDERATION_PREFIX}/ca`, { config: { public: true } }, async (_req, reply) => {
    return reply.type('application/x-pem-file').header('cache-control', 'public, max-age=300').send(ca.caCertPem);
  });

  app.get(`${FEDERATION_PREFIX}/crl`, { config: { public: true } }, async (_req, reply) => {
    const crl = await ca.currentCrl();
    return reply.type('application/pkix-crl').header('cache-control', 'public, max-age=300').send(Buffer.from(crl));
  });

  app.post<{ Params: { token: string } }>(`${FEDERATION_PREFIX}/enroll/:token`, { config: { public: true } }, async (req, reply) => {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      // Fastify refuses other content types before this handler; kept for a missing header.
      return reply.code(400).send({ error: { code: 'BODY_INVALID', message: 'the request body must be JSON', requestId: req.id } });
    }
    const started = performance.now();
    try {
      const answer = await grants.redeem(req.params.token, req.body, {
        requestId: req.id,
        callerRequestId: req.callerRequestId,
        traceId: req.span?.traceId ?? req.traceparent?.traceId ?? null,
      });
      metrics.observeFederation('enroll', 'allowed', performance.now() - started);
      req.span?.setAttributes({ 'mosaic.verb': 'enroll', 'mosaic.outcome': 'allowed' });
      return answer;
    } catch (err) {
      metrics.observeFederation('enroll', 'denied', performance.now() - started);
      req.span?.setAttributes({ 'mosaic.verb': 'enroll', 'mosaic.outcome': 'denied' });
      throw err;
    }
  });
}
