/**
 * The services beside the database, each checked only when the configuration uses it: Redis
 * (and its eviction policy when jobs live in it), NATS (and JetStream for the event log),
 * RabbitMQ, memcached, ClickHouse, SMTP.
 */
import { Socket } from 'node:net';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { type Finding, fix, ok, warn } from './finding.js';

const redacted = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(an URL that does not parse)';
  }
};

/** `jobs`: the job queue is on this Redis (JOBS=bullmq), which must then never evict and should persist. */
export async function checkRedis(url: string, timeoutMs: number, jobs: boolean): Promise<Finding[]> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => undefined); // the failed call says it
  await redis.connect();
  try {
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const [major = 0, minor = 0] = version.split('.').map(Number);
    const findings: Finding[] = [major > 6 || (major === 6 && minor >= 2) ? ok('redis', `Redis ${version} at ${redacted(url)}`) : fix('redis', `Redis ${version} at ${redacted(url)}: Parley needs 6.2 or later`, 'Upgrade Redis to 6.2 or later (7 advised).')];
    let policy: string | null = null;
    let persistence: { aof: string; save: string } | null = null;
    try {
      policy = ((await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[])[1] ?? null;
      const aof = ((await redis.call('CONFIG', 'GET', 'appendonly')) as string[])[1] ?? '';
      const save = ((await redis.call('CONFIG', 'GET', 'save')) as string[])[1] ?? '';
      persistence = { aof, save };
    } catch {
      // CONFIG is disabled or renamed on many managed Redis services.
    }
    const check = 'redis maxmemory-policy';
    if (policy === null) {
      findings.push(warn(check, 'cannot be read (the CONFIG command is disabled here)', jobs ? 'Make sure the Redis jobs live on has maxmemory-policy noeviction, in its own configuration or the provider\'s console.' : 'Nothing to do unless jobs move to this Redis (JOBS=bullmq): then it must be noeviction.'));
    } else if (jobs && policy !== 'noeviction') {
      findings.push(fix(check, `${policy}, and JOBS=bullmq keeps the job queue here: under memory pressure Redis would delete jobs`, 'Set `maxmemory-policy noeviction` (redis.conf, or CONFIG SET maxmemory-policy noeviction and CONFIG REWRITE).'));
    } else {
      findings.push(ok(check, jobs ? `${policy}: jobs are never evicted` : `${policy} (sessions, cache, rate limits and presence tolerate eviction; jobs are not kept here)`));
    }
    if (jobs && persistence !== null) {
      const persists = persistence.aof === 'yes' || persistence.save.trim() !== '';
      findings.push(
        persists
          ? ok('redis persistence', persistence.aof === 'yes' ? 'append-only file on' : `snapshots (save ${persistence.save})`)
          : warn('redis persistence', 'off: a Redis restart loses every queued job', 'Turn on `appendonly yes` (and `appendfsync everysec`) on the Redis that keeps jobs.'),
      );
    }
    return findings;
  } finally {
    redis.disconnect();
  }
}

/** `jetstream`: the event log runs on this server (EVENT_LOG=jetstream), which then needs JetStream on. */
export async function checkNats(label: string, url: string, timeoutMs: number, jetstream: boolean): Promise<Finding[]> {
  const nc = await natsConnect({ servers: url, timeout: timeoutMs, reconnect: false });
  try {
    const findings: Finding[] = [ok(label, `NATS ${nc.info?.version ?? 'unknown version'} at ${redacted(url)}`)];
    if (jetstream) {
      try {
        const manager = await jetstreamManager(nc, { timeout: timeoutMs });
        const account = await manager.getAccountInfo();
        findings.push(ok(`${label} JetStream`, `on (${account.streams} stream${account.streams === 1 ? '' : 's'})`));
      } catch (error) {
        findings.push(fix(`${label} JetStream`, `not available: ${(error as Error).message}`, 'Start nats-server with JetStream on (`-js`, or `jetstream {}` in its configuration) and a store directory (`-sd`).'));
      }
    }
    return findings;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

export async function checkAmqp(url: string, timeoutMs: number): Promise<Finding[]> {
  const connection = await amqp.connect(url, { timeout: timeoutMs });
  try {
    const props = (connection as unknown as { connection?: { serverProperties?: Record<string, unknown> } }).connection?.serverProperties ?? {};
    return [ok('rabbitmq', `${String(props.product ?? 'AMQP server')} ${String(props.version ?? '')} at ${redacted(url)}`.replace(/\s+at/, ' at'))];
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** memcached's text protocol: `version`. */
export function checkMemcached(url: string, timeoutMs: number): Promise<Finding[]> {
  const u = new URL(url.includes('://') ? url : `memcached://${url}`);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let answer = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (!answer.includes('\r\n')) return;
      socket.end();
      const version = /^VERSION (\S+)/.exec(answer)?.[1];
      resolve([version === undefined ? fix('memcached', `answered "${answer.trim().slice(0, 60)}", not as memcached`, 'Point CACHE_URL at a memcached server.') : ok('memcached', `memcached ${version} at ${u.host}`)]);
    });
    socket.connect(Number(u.port || 11211), u.hostname, () => socket.write('version\r\n'));
  });
}

export async function checkClickHouse(url: string, timeoutMs: number): Promise<Finding[]> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (u.username !== '') headers['x-clickhouse-user'] = decodeURIComponent(u.username);
  if (u.password !== '') headers['x-clickhouse-key'] = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const res = await fetch(new URL('/?query=SELECT%20version()', u), { headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.text()).trim();
  if (!res.ok) return [fix('clickhouse', `answered ${res.status}: ${body.slice(0, 120)}`, 'Check ANALYTICS_URL and its user and password.')];
  return [ok('clickhouse', `ClickHouse ${body} at ${u.host}`)];
}

export async function checkSmtp(url: string, timeoutMs: number, publicUrl: string): Promise<Finding[]> {
  const transport = nodemailer.createTransport({ url, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs });
  try {
    await transport.verify();
  } finally {
    transport.close();
  }
  const findings = [ok('smtp', `accepts connections at ${redacted(url)}`)];
  if (publicUrl === '') findings.push(warn('smtp links', 'PUBLIC_URL is not set: links in e-mails cannot point at the web app', 'Set PUBLIC_URL to the address users open (https://chat.example.com).'));
  return findings;
}
