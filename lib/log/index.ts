// Structured JSON logs (pino) with secrets redacted by path, so a token or a database URL never
// reaches a log line even when a whole object is logged.
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = [
  'databaseUrl',
  '*.databaseUrl',
  'password',
  '*.password',
  'token',
  '*.token',
  'githubToken',
  '*.githubToken',
  'privateKey',
  '*.privateKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.env[*].value',
];

export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.POSTURE_LOG_LEVEL ?? 'info',
      name: options.name,
      base: { service: options.name },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/** A logger that drops everything: the default for library code called from tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
