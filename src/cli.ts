#!/usr/bin/env node
/** The parley command: start, migrate, help. */
import { openStore, startParley } from './app.js';
import { ConfigError, loadConfig, OPTIONS } from './config.js';
import { createLogger } from './observability/log.js';

const HELP = `Usage: parley <command>

Commands:
  start      Start the server (HTTP API, WebSocket gateway, web client).
  migrate    Bring the database schema to the latest version, then exit.
  help       Show this help.

Configuration comes from environment variables (see docs/operations.md):
${Object.entries(OPTIONS)
  .map(([name, o]) => `  ${name.padEnd(32)} ${o.default === '' ? '(unset)' : o.default}`)
  .join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'help';
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command !== 'start' && command !== 'migrate') {
    process.stderr.write(`parley: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: configuration error: ${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config.LOG_LEVEL);
  if (command === 'migrate') {
    const store = await openStore(config, log);
    try {
      await store.migrate();
      log.info('schema is up to date');
    } finally {
      await store.close();
    }
    return 0;
  }

  const parley = await startParley(config, log);
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    parley.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`parley: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
