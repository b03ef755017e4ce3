import { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { generateRequestId, isMosaicError, parseRequestId, parseTraceparent, redactEnrollPath, type TraceParent } from '@mosaic/federation-core';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's own `x-request-id`, only when well-formed (SECURITY.md 37). */
    callerRequestId: string | null;
    /** The caller's W3C trace context, only when well-formed. */
    traceparent: TraceParent | null;
  }
}

/** Options every Fastify instance of the gateway shares: our own request ids, quiet per-request logs. */
export function baseFastifyOptions() {
  return {
    genReqId: () => generateRequestId(),
    // The caller's header is never used as our id; it is kept separately once validated.
    requestIdHeader: false as const,
    // Fastify's own request lines are off: ours (installCommonHooks) redact the enroll token.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  };
}

/**
 * Shared hooks: an `x-request-id` on every answer, validated caller ids and trace context,
 * one structured log line per request with the enrollment token redacted.
 */
export function installCommonHooks(app: FastifyInstance, options: { notFound?: boolean } = {}): void {
  app.decorateRequest('callerRequestId', null);
  app.decorateRequest('traceparent', null);
  app.addHook('onRequest', async (req, reply) => {
    req.callerRequestId = parseRequestId(req.headers['x-request-id']);
    req.traceparent = parseTraceparent(req.headers.traceparent);
    void reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info(
      { reqId: req.id, method: req.method, url: loggablePath(req), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });
  // (the federation listener answers unknown routes itself, audited)
  if (options.notFound !== false) app.setNotFoundHandler((req, reply) => sendError(reply, req, 404, 'ROUTE_NOT_FOUND', `no route ${req.method} ${loggablePath(req)}`));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isMosaicError(err) && err.statusCode < 500) {
      return sendError(reply, req, err.statusCode, err.code, err.message, { remediation: err.remediation, details: err.details });
    }
    // Deliberate upstream failures (a peer unreachable, refusing, answering junk; a store down)
    // keep their code: they tell the admin what to do, and say nothing about our internals.
    if (isMosaicError(err) && (err.statusCode === 502 || err.statusCode === 503 || err.statusCode === 504)) {
      return sendError(reply, req, err.statusCode, err.code, err.message, { remediation: err.remediation });
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, req, 413, 'BODY_TOO_LARGE', 'the request body is over the 64 KiB limit');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, req, 400, 'BODY_INVALID', 'the request body must be JSON (content-type: application/json)');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, req, 400, 'BODY_INVALID', 'the request body is empty; send a JSON object');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, req, 400, 'BODY_INVALID', 'the request body is not valid JSON');
      default:
        break;
    }
    if (err instanceof SyntaxError || err.statusCode === 400) return sendError(reply, req, 400, 'BODY_INVALID', 'the request could not be read');
    // Anything else is a bug or an outage: logged with the request id, masked for the caller.
    req.log.error({ reqId: req.id, err: { type: err.name, message: err.message, code: err.code, stack: err.stack } }, 'request failed');
    return sendError(reply, req, 500, 'INTERNAL', `internal error; quote request id ${req.id} to the gateway's admin`);
  });
}

/**
 * The path as it may be logged or echoed: the matched route's pattern (`…/enroll/:token`),
 * which holds no parameter values; for an unmatched path, the decoded path with anything
 * after `/enroll/` redacted (Fastify routes on the decoded path, so `enrol%6C/<token>` is
 * the enroll route too) and no query string.
 */
export function loggablePath(req: FastifyRequest): string {
  const pattern = req.routeOptions.url;
  if (pattern !== undefined && pattern !== '*' && pattern !== '/*') return pattern;
  const raw = req.url.split('?')[0] ?? '';
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // keep the raw path
  }
  // Anything that could be a token is cut, whatever path it came in on (`//enroll/`, `Enroll`, …).
  const redacted = decoded
    .split('/')
    .map((segment) => (/^[A-Za-z0-9_-]{32,}$/.test(segment) ? '<redacted>' : segment))
    .join('/');
  return redactEnrollPath(redacted.replace(/[\p{Cc}]/gu, '?')).slice(0, 200);
}

/** Send the error envelope `{"error":{"code","message","requestId",…}}`. */
export function sendError(
  reply: FastifyReply,
  req: FastifyRequest,
  status: number,
  code: string,
  message: string,
  extra: { remediation?: string | undefined; details?: unknown; headers?: Record<string, string> } = {},
): FastifyReply {
  const error: Record<string, unknown> = { code, message, requestId: req.id };
  if (extra.remediation !== undefined) error.remediation = extra.remediation;
  if (extra.details !== undefined) error.details = extra.details;
  for (const [k, v] of Object.entries(extra.headers ?? {})) void reply.header(k, v);
  return reply.code(status).type('application/json').send({ error });
}
