// Structured JSON logs (pino). Child loggers carry namespace/name, hostname and zoneId.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    level,
    base: { app: 'gateway-orchestrator' },
    // Never let credentials or private keys reach a log line, whatever object is logged.
    redact: {
      paths: ['*.privateKey', '*.key', '*.token', '*.secretAccessKey', '*.sessionToken', 'headers.authorization', '*.headers.authorization'],
      censor: '[redacted]',
    },
  });
}

export const log: Logger = createLogger();
