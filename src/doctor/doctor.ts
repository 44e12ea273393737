/**
 * `parley doctor`: checks the configuration and every dependency it names, the settings Parley
 * needs of them, and this machine's limits, and says in plain words what to fix. Each
 * dependency is checked at once and within its own time limit, so a dependency that hangs is a
 * finding, not a hung command. Nothing is changed anywhere (no migration, no key made).
 */
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { filesDir, openObjectStore } from '../adapters/open-object-store.js';
import { busKind } from '../adapters/open-bus.js';
import { type Config, ConfigError, type Env, loadConfig } from '../config.js';
import { bounded, CHECK_TIMEOUT_MS, type Finding, fix, ok, warn } from './finding.js';
import { checkPostgres } from './postgres-check.js';
import { checkAmqp, checkClickHouse, checkMemcached, checkNats, checkRedis, checkSmtp } from './services-check.js';
import { checkDirectory, checkOpenFiles, checkSqlite } from './system-check.js';

export interface DoctorOptions {
  /** Connections this machine is to hold (checked against the open-file limit), or null. */
  connections: number | null;
  /** Nodes (machines) of the deployment, each with the same WORKERS: for PostgreSQL's connection count. */
  nodes: number;
  /** `parley worker` processes of the deployment, each with a pool of DATABASE_POOL_SIZE. */
  jobWorkers: number;
  /** Each dependency's time limit, ms. */
  timeoutMs: number;
  /** The open-file limits text (/proc/self/limits), for tests. */
  limits?: () => string;
}

export const DEFAULT_OPTIONS: DoctorOptions = { connections: null, nodes: 1, jobWorkers: 0, timeoutMs: CHECK_TIMEOUT_MS };

/** Connections a node process opens to the primary to route reads to replicas: a probe (1) and the commit positions' pool (4). */
const REPLICA_ROUTING_CONNECTIONS = 5;

export async function runDoctor(env: Env, options: DoctorOptions = DEFAULT_OPTIONS): Promise<Finding[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [fix('configuration', error.message, 'Correct the variable named above (docs/operations.md, "Configuration", lists each one).')];
    throw error;
  }
  const workers = config.WORKERS === 'auto' ? availableParallelism() : config.WORKERS;
  const t = options.timeoutMs;
  const checks: Promise<Finding[]>[] = [Promise.resolve(configFindings(config, options.nodes, workers))];
  const reach = (what: string, setting: string) => `Start ${what}, or correct ${setting}; check that this machine can reach it (firewall, address, credentials).`;

  if (config.DATABASE_URL === '') {
    checks.push(checkDirectory('data directory', config.DATA_DIR).then((f) => [f]));
    checks.push(bounded('store', t, async () => checkSqlite(path.join(config.DATA_DIR, 'parley.db')), 'Another process may hold the database locked; check DATA_DIR.'));
  } else {
    const processes = options.nodes * workers;
    const pooled = config.DATABASE_POOLER === 'pgbouncer';
    const pool = config.DATABASE_POOL_SIZE;
    const jobWorkers = { processes: options.jobWorkers, each: pool, what: '`parley worker` processes' };
    const replicated = config.DATABASE_REPLICA_URLS.length > 0;
    const primary = [
      { processes, each: pool, what: 'node processes' },
      // Replica routing: a probe and the commit positions' pool, per node process (postgres-replicas.ts).
      ...(replicated ? [{ processes, each: REPLICA_ROUTING_CONNECTIONS, what: 'replica routing of the node processes' }] : []),
      jobWorkers,
    ];
    checks.push(bounded('store', t, () => checkPostgres('store', config.DATABASE_URL, { parts: primary, pooled }, t, true), reach('PostgreSQL', 'DATABASE_URL')));
    config.DATABASE_REPLICA_URLS.forEach((url, i) => {
      const parts = [{ processes, each: pool + 1, what: 'node processes: pool and probe' }];
      checks.push(bounded(`replica ${i + 1}`, t, () => checkPostgres(`replica ${i + 1}`, url, { parts, pooled }, t, false), reach('the replica', 'DATABASE_REPLICA_URLS')));
    });
    for (const shard of config.DATABASE_SHARD_URLS) {
      const each = config.DATABASE_SHARD_POOL_SIZE;
      const parts = [{ processes, each, what: 'node processes' }, { ...jobWorkers, each }];
      checks.push(bounded(`shard ${shard.name}`, t, () => checkPostgres(`shard ${shard.name}`, shard.url, { parts, pooled }, t, true), reach('the shard', 'DATABASE_SHARD_URLS')));
    }
  }

  const bus = busKind(config);
  if (config.REDIS_URL !== '') checks.push(bounded('redis', t, () => checkRedis(config.REDIS_URL, t, config.JOBS === 'bullmq'), reach('Redis', 'REDIS_URL')));
  else if (config.JOBS === 'bullmq') checks.push(Promise.resolve([fix('jobs', 'JOBS=bullmq needs REDIS_URL', 'Set REDIS_URL, or JOBS=embedded.')]));
  if (bus === 'nats' && config.NATS_URL !== '') checks.push(bounded('nats', t, () => checkNats('nats', config.NATS_URL, t, config.EVENT_LOG === 'jetstream' && (config.EVENT_LOG_URL === '' || config.EVENT_LOG_URL === config.NATS_URL)), reach('nats-server', 'NATS_URL')));
  if (config.EVENT_LOG === 'jetstream' && config.EVENT_LOG_URL !== '' && config.EVENT_LOG_URL !== config.NATS_URL) {
    checks.push(bounded('event log', t, () => checkNats('event log', config.EVENT_LOG_URL, t, true), reach('nats-server with JetStream', 'EVENT_LOG_URL')));
  }
  if (config.JOBS === 'amqp') checks.push(bounded('rabbitmq', t, () => checkAmqp(config.AMQP_URL, t), reach('RabbitMQ', 'AMQP_URL')));
  if (config.CACHE_URL !== '') checks.push(bounded('memcached', t, () => checkMemcached(config.CACHE_URL, t), reach('memcached', 'CACHE_URL')));
  if (config.ANALYTICS === 'clickhouse') checks.push(bounded('clickhouse', t, () => checkClickHouse(config.ANALYTICS_URL, t), reach('ClickHouse', 'ANALYTICS_URL')));
  if (config.SMTP_URL !== '') checks.push(bounded('smtp', t, () => checkSmtp(config.SMTP_URL, t, config.PUBLIC_URL), reach('the SMTP server', 'SMTP_URL')));

  if (config.FILE_STORAGE === 'fs') {
    checks.push(checkDirectory('files directory', filesDir(config)).then((f) => [f]));
  } else {
    checks.push(
      bounded(
        'object storage',
        t,
        async () => {
          await openObjectStore(config).ping();
          return [ok('object storage', `bucket ${config.S3_BUCKET}${config.S3_ENDPOINT === '' ? '' : ` at ${config.S3_ENDPOINT}`} answers`)];
        },
        reach('the object storage', 'S3_BUCKET, S3_ENDPOINT and the credentials'),
      ),
    );
  }
  checks.push(Promise.resolve([checkOpenFiles(config.HTTP_MAX_CONNECTIONS, workers, options.connections, options.limits)]));
  return (await Promise.all(checks)).flat();
}

/** What the configuration alone tells. */
function configFindings(config: Config, nodes: number, workers: number): Finding[] {
  const store = config.DATABASE_URL === '' ? 'embedded SQLite' : 'PostgreSQL';
  const findings: Finding[] = [ok('configuration', `valid: ${store} store, ${busKind(config)} bus, ${config.JOBS} jobs, ${config.FILE_STORAGE} files, ${workers} worker${workers === 1 ? '' : 's'}`)];
  if (nodes > 1 && config.DATABASE_URL === '') {
    findings.push(fix('deployment', `${nodes} nodes on the embedded store: its file serves one machine`, 'Move the data to PostgreSQL (`parley data copy`, docs/operations.md) and set DATABASE_URL on every node.'));
  }
  if (nodes > 1 && config.REDIS_URL === '' && config.NATS_URL === '') {
    findings.push(fix('deployment', `${nodes} nodes with no bus between them: a message sent on one node would not reach the others`, 'Set NATS_URL or REDIS_URL, the same on every node.'));
  }
  if ((nodes > 1 || config.REDIS_URL !== '' || config.NATS_URL !== '') && config.SECRET_KEY === '') {
    findings.push(warn('secret key', 'SECRET_KEY is not set: each node uses a key of its own, made in its DATA_DIR, so links signed on one node fail on another', 'Generate one key (`openssl rand -hex 32`) and set SECRET_KEY to it on every node.'));
  }
  return findings;
}

/** The report as text: a summary line, then one line per finding and its remedy. */
export function formatFindings(findings: Finding[]): string {
  const count = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  const fixes = count('fix');
  const warnings = count('warn');
  const width = Math.min(32, Math.max(...findings.map((f) => f.check.length)));
  const lines = [`parley doctor: ${findings.length} checks, ${fixes} to fix, ${warnings} warning${warnings === 1 ? '' : 's'}`, ''];
  const label = { ok: 'ok  ', warn: 'WARN', fix: 'FIX ' } as const;
  for (const f of findings) {
    lines.push(`  ${label[f.status]}  ${f.check.padEnd(width)}  ${f.detail}`);
    if (f.remedy !== undefined) lines.push(`  ${' '.repeat(4)}  ${' '.repeat(width)}  → ${f.remedy}`);
  }
  return `${lines.join('\n')}\n`;
}

export function parseDoctorArgs(args: string[]): (DoctorOptions & { json: boolean }) | string {
  const options = { ...DEFAULT_OPTIONS, json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--json') {
      options.json = true;
      continue;
    }
    if (name !== '--connections' && name !== '--nodes' && name !== '--job-workers' && name !== '--timeout-ms') return `unknown option ${arg}`;
    const raw = inline ?? args[++i];
    const value = Number(raw);
    const least = name === '--job-workers' ? 0 : 1;
    if (raw === undefined || !Number.isInteger(value) || value < least) return `${name} needs a whole number of ${least} or more`;
    if (name === '--connections') options.connections = value;
    else if (name === '--nodes') options.nodes = value;
    else if (name === '--job-workers') options.jobWorkers = value;
    else options.timeoutMs = value;
  }
  return options;
}
