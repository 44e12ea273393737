/** Structured JSON logs (pino). Message bodies, passwords and tokens are never logged. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', 'token', 'body'], remove: true },
  });
}
