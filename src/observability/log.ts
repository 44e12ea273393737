/** Structured JSON logs (pino). Message bodies, passwords and tokens are never logged. */
import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout; `pretty` (LOG_FORMAT=pretty, for a developer's terminal) renders them
 * readable through pino-pretty in a worker thread, never in production by default.
 */
export function createLogger(level: string, format: 'json' | 'pretty' = 'json', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', 'token', 'body'], remove: true },
    ...(format === 'pretty' ? { transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
