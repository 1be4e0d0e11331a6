import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../../config/config.js';
import { redact, redactString } from './redact.js';

/**
 * The one pino logger of the process. Every object logged goes through `redact` (keys and
 * values, at any depth) and so does the message, so a secret cannot reach the output even when
 * a caller logs a whole request or error.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'ledgerline' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redact(object),
      },
      hooks: {
        logMethod(args, method) {
          // pino formats `msg` after formatters.log, so scrub string arguments here.
          const cleaned = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg));
          return method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
