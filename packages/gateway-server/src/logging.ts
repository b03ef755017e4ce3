import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * The gateway's structured logger. Request lines carry method, redacted path, status and time
 * (see http.ts) — never headers, bodies, tokens, keys, PEM or rows. As a second line of
 * defence, fields that could carry secrets are censored wherever they appear.
 */
export function createLogger(options: { level?: string; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level ?? process.env.MOSAIC_LOG_LEVEL ?? 'info',
      base: { gateway: options.name },
      redact: {
        paths: [
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'req.headers.authorization',
          'keyPem',
          '*.keyPem',
          'csrPem',
          '*.csrPem',
          'secret',
          '*.secret',
        ],
        censor: '<redacted>',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
