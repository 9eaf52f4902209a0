import pino, { type Logger } from 'pino';
import { currentTraceId } from './trace-context.js';

/**
 * Structured JSON logs (pino) with the active trace id in every line, so a log line can be found
 * from a trace and back. `LOG_LEVEL` sets the level (default `info`; `silent` in tests).
 */
export function createLogger(service: string, options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const traceId = currentTraceId();
        return traceId ? { traceId } : {};
      },
    },
    options.destination,
  );
}

export type { Logger };
