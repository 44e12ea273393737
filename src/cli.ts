#!/usr/bin/env node
/** The parley command: start, migrate, help. */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Counter, Registry } from 'prom-client';
import { migrateStore, openStore, startParley } from './app.js';
import { type SupervisorMessage, isSupervisorMessage } from './cluster/messages.js';
import { RETIRE_MARGIN_MS, Supervisor } from './cluster/supervisor.js';
import { type Config, ConfigError, loadConfig, OPTIONS } from './config.js';
import { exitProcess } from './hard-exit.js';
import { PrimaryMetrics } from './observability/cluster-metrics.js';
import { handleHeapSnapshotSignal } from './observability/heap-snapshot.js';
import { startTracing, type TracingHandle, tracingRequested } from './observability/tracing.js';
import { createLogger, type Logger } from './observability/log.js';
import { runAdminCommand } from './admin/cli.js';
import { openAdminConsole } from './admin/console.js';
import { runBackupCommand } from './backup/cli.js';
import { runDataCommand } from './store-copy/cli.js';
import { runDoctorCommand } from './doctor/cli.js';
import { runAnalyticsCommand } from './analytics/cli.js';
import { runJobsCommand } from './jobs/cli.js';
import { runShardsCommand } from './shards/cli.js';
import { startJobWorker } from './worker.js';

const HELP = `Usage: parley <command> [options]

Commands:
  start      Start the server (HTTP API, WebSocket gateway, web client).
             --workers N|auto   worker processes (default: WORKERS); auto = one per core.
             Signals: SIGTERM/SIGINT shut down gracefully; SIGHUP reloads workers one by one.
  worker     Work jobs only (webhook deliveries, exports, retention): no HTTP API, no
             WebSocket; probes and metrics on WORKER_PORT. Run as many as the jobs need.
  jobs       Inspect and repair the job queues:
             jobs counts                 jobs by queue and state
             jobs dead <queue> [limit]   dead jobs, oldest failure first (JSON lines)
             jobs retry <queue> <id>     run a dead job again, its attempts renewed
             jobs purge <queue> [id]     delete one dead job, or all of the queue's
  shards     Rooms spread over DATABASE_SHARD_URLS:
             shards status               rooms per shard in the directory, moves under way
             shards move <room> <shard>  move one room while it is in use (JSON report)
  analytics  Reports from analytics (ANALYTICS=clickhouse), as JSON:
             analytics <report> [--from D] [--to D] [--room ID] [--limit N]
                 reports: messages, active-users, busiest-rooms, busiest-hours, delivery-latency
             analytics status            rows in ClickHouse, the consumer's lag in the log
             analytics replay [--from-offset N] [--clear --yes]
                                         write the log to analytics again from offset N
                                         (idempotent); --clear empties the tables first
  admin      Server administration (each change in the server's audit log; JSON lines):
             admin grant|revoke <username>   admin list     the server administrators
             admin users [prefix] [--state active|disabled|deleted|bot] [--limit N]
             admin user create <username> [--display-name N] [--admin] [--password-stdin]
             admin user disable|enable|revoke-sessions <username>
             admin user password <username> [--password-stdin]   (made and shown if not given)
             admin user delete <username> --yes
             admin rooms [text] [--limit N]
             admin room archive|unarchive <roomId> --by <admin username>
             admin dead <queue> [--limit N] | retry <queue> <id> | purge <queue> [id]
             admin audit [--limit N]      --by <username>: the administrator acting
  backup     An online backup of the embedded store (while it serves), its key and files:
             backup <directory> [--no-files]
  restore    Put a backup back (every node stopped; what it replaces is kept aside):
             restore <directory> [--force]
  data       Move the data to another store (docs/operations.md, "Moving to PostgreSQL"):
             data copy --to <postgres://…|sqlite:/path>   copy (resumable, idempotent), then verify
             data verify --to <url>      compare counts and per-room checksums (exit 1 on a difference)
  doctor     Check the configuration, every dependency it names and this machine's limits,
             and say what to fix: doctor [--connections N] [--nodes N] [--job-workers N] [--json] [--timeout-ms N]
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
  // Before the configuration is loaded: a configuration error is one of the doctor's findings.
  if (command === 'doctor') {
    // Exits once the report is out: a dependency that ignored its time limit (a client whose
    // connection attempt cannot be cancelled) must not keep the command running.
    const code = await runDoctorCommand(argv.slice(1));
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    process.exit(code);
  }
  if (!['start', 'migrate', 'worker', 'jobs', 'shards', 'analytics', 'admin', 'backup', 'restore', 'data'].includes(command)) {
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
  const log = createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
  if (command === 'migrate') {
    const store = await openStore(config, log);
    try {
      await migrateStore(store, config, log);
      log.info('schema is up to date');
    } finally {
      await store.close();
    }
    return 0;
  }

  if (command === 'jobs') return runJobsCommand(argv.slice(1), config, log);
  if (command === 'analytics') return runAnalyticsCommand(argv.slice(1), config, log, {
      openStore: async () => {
        const store = await openStore(config, log);
        return { store, close: () => store.close() };
      },
    });
  if (command === 'admin') {
    const store = await openStore(config, log);
    try {
      await migrateStore(store, config, log);
      return await runAdminCommand(argv.slice(1), { store, openConsole: () => openAdminConsole(config, log, store), readSecret: readFirstLine });
    } finally {
      await store.close();
    }
  }
  if (command === 'shards') return runShardsCommand(argv.slice(1), config, log);
  if (command === 'backup' || command === 'restore') return runBackupCommand(command, argv.slice(1), config);
  if (command === 'data') return runDataCommand(argv.slice(1), config);
  if (command === 'worker') {
    const worker = await startJobWorker(config, log);
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      exitAfter(() => worker.close(), config.SHUTDOWN_TIMEOUT_MS, log);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return -1;
  }

  let workers: number;
  try {
    workers = workerCount(argv.slice(1), config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (cluster.isWorker) return runWorker(config, log);
  if (workers > 1) return runPrimary(config, log, workers);
  return runSingle(config, log);
}

/** `--workers N|auto` wins over WORKERS; auto is one per core. */
function workerCount(args: string[], config: Config): number {
  let value: number | 'auto' = config.WORKERS;
  const i = args.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (i >= 0) {
    const arg = args[i] as string;
    const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
    if (raw === undefined) throw new ConfigError('--workers needs a value: a number or auto.');
    value = OPTIONS.WORKERS.parse(raw, '--workers');
  }
  return value === 'auto' ? availableParallelism() : value;
}

/**
 * Exits 0 once `close` resolves, 1 if it fails or passes the deadline. The deadline holds even
 * with a worker thread stuck in a native call (exitProcess: the process then kills itself).
 */
function exitAfter(close: () => Promise<void>, deadlineMs: number, log: Logger): void {
  // Referenced: a close() waiting on nothing that keeps the loop alive must not let the process
  // reach a natural exit, which would wait for a stuck thread with no deadline at all.
  setTimeout(() => {
    log.error('shutdown deadline passed; exiting');
    void exitProcess(1, log);
  }, deadlineMs);
  close().then(
    () => exitProcess(0, log),
    (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      return exitProcess(1, log);
    },
  );
}

/** Tracing for this process, when the OTEL_* variables ask for it. */
function startProcessTracing(log: Logger): TracingHandle | null {
  if (!tracingRequested(process.env)) return null;
  const handle = startTracing(process.env);
  log.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'default' }, 'tracing to OTLP');
  return handle;
}

async function runSingle(config: Config, log: Logger): Promise<number> {
  const tracing = startProcessTracing(log);
  const parley = await startParley(config, log);
  handleHeapSnapshotSignal(config.HEAP_SNAPSHOT_DIR === '' ? config.DATA_DIR : config.HEAP_SNAPSHOT_DIR, log);
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    exitAfter(() => parley.close().then(() => tracing?.shutdown()), config.SHUTDOWN_TIMEOUT_MS, log);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1; // keep running
}

async function runWorker(config: Config, log: Logger): Promise<number> {
  const tracing = startProcessTracing(log);
  const parley = await startParley(config, log);
  handleHeapSnapshotSignal(config.HEAP_SNAPSHOT_DIR === '' ? config.DATA_DIR : config.HEAP_SNAPSHOT_DIR, log);
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'worker shutting down');
    exitAfter(() => parley.close().then(() => tracing?.shutdown()), config.SHUTDOWN_TIMEOUT_MS, log);
  };
  process.on('message', (message) => {
    if (isSupervisorMessage(message) && message.type === 'shutdown') stop('asked by the primary');
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // The primary relays SIGHUP as a rolling reload; a worker ignores it.
  process.on('SIGHUP', () => undefined);
  const ready: SupervisorMessage = { parley: 'supervisor', type: 'ready', url: parley.url };
  process.send?.(ready);
  return -1;
}

async function runPrimary(config: Config, log: Logger, workers: number): Promise<number> {
  // Migrate once here, so workers start on an up-to-date schema without racing for the lock.
  const store = await openStore(config, log);
  try {
    await migrateStore(store, config, log);
  } finally {
    await store.close();
  }
  // The primary's own metrics; /metrics on any worker merges them with every worker's.
  const registry = new Registry();
  const restarts = new Counter({ name: 'parley_worker_restarts_total', help: 'Workers that died unasked and were restarted by the primary.', registers: [registry] });
  const nodeMetrics = new PrimaryMetrics(registry, () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined));
  const supervisor = new Supervisor({
    workers,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    log,
    onFork: (worker) => nodeMetrics.attach(worker),
    onRestart: () => restarts.inc(),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'cluster shutting down');
    // Each worker has SHUTDOWN_TIMEOUT_MS, and is killed RETIRE_MARGIN_MS after it; the primary
    // waits a little longer for the last one.
    exitAfter(() => supervisor.stop().then(() => log.info('cluster stopped')), config.SHUTDOWN_TIMEOUT_MS + RETIRE_MARGIN_MS + 2_000, log);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Heap snapshots are per process: the primary holds nothing worth one and names the workers.
  process.on('SIGUSR2', () => {
    const pids = Object.values(cluster.workers ?? {}).map((w) => w?.process.pid);
    log.warn({ workers: pids }, 'SIGUSR2 is for a worker: send it to one of these pids for a heap snapshot');
  });
  process.on('SIGHUP', () => {
    if (!stopping) supervisor.reload().catch((error: unknown) => log.error({ err: error }, 'reload failed'));
  });
  await supervisor.start();
  return -1;
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

/** The first line of standard input, without its line break (a password piped in). */
async function readFirstLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 4_096) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}
