/**
 * How the analytics consumer keeps up: the `analytics` group of the event log writing every
 * record to ClickHouse. A NATS server with JetStream and a ClickHouse server, both started here
 * on free ports; one Parley node in this process on its embedded store with
 * EVENT_LOG=jetstream and ANALYTICS=clickhouse (ANALYTICS_BATCH and ANALYTICS_FLUSH_MS at their
 * defaults unless given).
 *
 * Phase A, live: one public room whose members each hold a subscribed WebSocket, and a few
 * senders sending into it at a steady total rate. Prints sends acknowledged, deliveries per
 * second, the analytics delay (parley_analytics_delay_seconds, from its buckets: a record stored
 * in the log to its write to ClickHouse), the most records the `analytics` group had pending
 * (parley_event_consumer_pending, read from /metrics every second; the node refreshes that gauge
 * every 5 s), and how long after the last acknowledged send ClickHouse held every stream event
 * of the room (`counts().events` reaching the room's lastSeq).
 *
 * Phase B, catch-up: the sockets closed and ClickHouse holding every record of the log,
 * `parley analytics replay --clear --yes` empties the tables and rewinds the group to the first
 * record; the node's consumer then writes the whole log again. Prints when the first rows were
 * back, how long until ClickHouse held it all again, and the log records per second of that
 * (stream events, operational events and delivery-latency windows, each one record of the log).
 * That time includes the running consumer noticing its group was made again, and a log smaller
 * than ANALYTICS_BATCH goes back in one batch: give a smaller --batch to see several.
 *
 *   npx tsx bench/analytics.ts [--members 300] [--senders 10] [--seconds 20] [--rate 200]
 *                              [--batch N] [--flush-ms N]
 *
 * The clients, the node, NATS and ClickHouse share this machine (the clients share the node's
 * event loop): compare runs on the same machine, not with a deployment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import { ClickHouseAnalytics } from '../src/adapters/clickhouse/analytics.js';
import { runAnalyticsCommand } from '../src/analytics/cli.js';
import { type Parley, startParley } from '../src/app.js';
import { type Config, testConfig } from '../src/config.js';
import { createLogger } from '../src/observability/log.js';
import { ANALYTICS_GROUP } from '../src/pipeline/analytics-consumer.js';
import { bucketQuantile, histogramBuckets, openSocket, request, scrape, sleep, subscribedRoom } from './in-process.js';
import { call } from './rest.js';
import { total } from '../test/support/metrics.js';
import { CLICKHOUSE_SERVER, NATS_SERVER, type ServerHandle, startClickHouse, startNats } from '../test/support/services.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '300' },
    senders: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '20' },
    /** Total sends per second over all senders. */
    rate: { type: 'string', default: '200' },
    /** ANALYTICS_BATCH; the configuration's default unless given. */
    batch: { type: 'string' },
    /** ANALYTICS_FLUSH_MS; the configuration's default unless given. */
    'flush-ms': { type: 'string' },
  },
});
const MEMBERS = Number(values.members);
const SENDERS = Number(values.senders);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
/** Longest wait for ClickHouse to hold everything, in each phase. */
const CATCH_UP_MS = 120_000;
/** Longest wait for the sends' answers and for the deliveries still on their way. */
const ANSWERS_MS = 30_000;
const DELAY_METRIC = 'parley_analytics_delay_seconds';
const PENDING_METRIC = 'parley_event_consumer_pending';
const WRITTEN_METRIC = 'parley_analytics_written_total';
const APPENDED_METRIC = 'parley_event_log_appended_total';


type Counts = Awaited<ReturnType<ClickHouseAnalytics['counts']>>;
const rowsOf = (c: Counts) => c.events + c.ops + c.latencyWindows;

/**
 * Reads `counts()` every `everyMs` until `done` holds (answers the ms from `since`, performance.now()),
 * or CATCH_UP_MS pass (answers NaN, and the last counts read).
 */
async function countsUntil(analytics: ClickHouseAnalytics, done: (c: Counts) => boolean | Promise<boolean>, since: number, everyMs = 50): Promise<{ ms: number; last: Counts }> {
  const giveUpAt = performance.now() + CATCH_UP_MS;
  let last: Counts = { events: 0, ops: 0, latencyWindows: 0 };
  for (;;) {
    last = await analytics.counts();
    if (await done(last)) return { ms: performance.now() - since, last };
    if (performance.now() > giveUpAt) return { ms: Number.NaN, last };
    await sleep(everyMs);
  }
}

/** Starts the node; JetStream may still be starting when its port opens, so a few attempts. */
async function startNode(config: Config): Promise<Parley> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startParley(config);
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(250);
    }
  }
}

async function run(nats: ServerHandle, clickhouse: ServerHandle, dataDir: string): Promise<boolean> {
  const parley = await startNode(
    testConfig({
      PORT: 0,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      SCRYPT_COST: 10,
      EVENT_LOG: 'jetstream',
      EVENT_LOG_URL: nats.url,
      ANALYTICS: 'clickhouse',
      ANALYTICS_URL: clickhouse.url,
      ...(values.batch === undefined ? {} : { ANALYTICS_BATCH: Number(values.batch) }),
      ...(values['flush-ms'] === undefined ? {} : { ANALYTICS_FLUSH_MS: Number(values['flush-ms']) }),
      SEND_RATE_PER_SEC: 100_000,
      SEND_BURST: 100_000,
      FRAME_RATE_PER_SEC: 100_000,
      FRAME_BURST: 100_000,
      AUTH_RATE_PER_MIN: 100_000,
      LOAD_SHED_LAG_MS: 0,
    }),
  );
  const analytics = new ClickHouseAnalytics({ url: clickhouse.url, database: parley.config.ANALYTICS_DATABASE, timeoutMs: 10_000 });
  const sockets: WebSocket[] = [];
  let pendingPoll: NodeJS.Timeout | undefined;
  try {
    const url = parley.url;
    const room = await subscribedRoom(parley, { name: 'analytics', members: MEMBERS, senders: SENDERS, sockets });
    const { roomId, members, senders } = room;

    // Senders: one connection each, replies matched by id.
    let acked = 0;
    let sent = 0;
    let failed = 0;
    let lastAckAt = 0;
    const senderSockets = await Promise.all(
      senders.map(async (token) => {
        const ws = await openSocket(parley, token);
        sockets.push(ws);
        const pending = new Map<number, (reply: Record<string, unknown>) => void>();
        ws.on('message', (raw) => {
          const data = raw.toString();
          if (!data.startsWith('{"type":"reply"')) return;
          const frame = JSON.parse(data) as { id: number };
          pending.get(frame.id)?.(frame);
          pending.delete(frame.id);
        });
        return { ws, pending, nextId: 1 };
      }),
    );

    // The group's pending records, as the node reports them.
    let maxPending = 0;
    let pendingReads = 0;
    let pendingErrors = 0;
    pendingPoll = setInterval(() => {
      scrape(parley).then(
        (samples) => {
          const s = samples.find((x) => x.name === PENDING_METRIC && x.labels.group === ANALYTICS_GROUP);
          if (s === undefined) return;
          pendingReads++;
          maxPending = Math.max(maxPending, s.value);
        },
        () => pendingErrors++,
      );
    }, 1_000);

    const before = await scrape(parley);
    const delayBefore = histogramBuckets(before, DELAY_METRIC);
    const writtenBefore = total(before, WRITTEN_METRIC);
    process.stderr.write(`${MEMBERS} members subscribed, ${SENDERS} senders; sending ${RATE}/s for ${SECONDS} s (ANALYTICS_BATCH ${parley.config.ANALYTICS_BATCH}, ANALYTICS_FLUSH_MS ${parley.config.ANALYTICS_FLUSH_MS})\n`);

    // Phase A. Open loop: sends fall due at the offered rate whether or not earlier ones were answered.
    const started = performance.now();
    const deadline = started + SECONDS * 1_000;
    const deliveredBefore = room.delivered();
    const answers: Promise<void>[] = [];
    while (performance.now() < deadline) {
      const due = Math.min(Math.floor(((performance.now() - started) / 1_000) * RATE), Math.round(SECONDS * RATE));
      while (sent < due) {
        const s = senderSockets[sent % senderSockets.length] as (typeof senderSockets)[number];
        const id = s.nextId++;
        const n = sent++;
        answers.push(
          request(s.ws, s.pending, id, { type: 'send', roomId, body: `analytics ${n}` }).then((reply) => {
            if (reply.ok === true) {
              acked++;
              lastAckAt = performance.now();
            } else failed++;
          }),
        );
      }
      await sleep(5);
    }
    const sendSeconds = (performance.now() - started) / 1_000;
    const deliveredInWindow = room.delivered() - deliveredBefore;
    await Promise.race([Promise.all(answers), sleep(ANSWERS_MS)]);
    const answeredSeconds = (lastAckAt - started) / 1_000;

    // Every stream event of the room (its creation, the joins, the messages) in ClickHouse.
    const streamEvents = ((await call(url, 'GET', `/rooms/${roomId}`, members[0] as string)).room as { lastSeq: number }).lastSeq;
    const liveCatchUp = await countsUntil(analytics, (c) => c.events >= streamEvents, lastAckAt);
    clearInterval(pendingPoll);
    // The node counts a batch (written, delays) only after ClickHouse answered its inserts, which may be after
    // this process read the rows: a flush interval more, so the last batch is in the figures.
    await sleep(parley.config.ANALYTICS_FLUSH_MS + 500);
    const afterA = await scrape(parley);
    const delayAfter = histogramBuckets(afterA, DELAY_METRIC);
    const buckets = [...delayAfter]
      .sort((a, b) => a[0] - b[0])
      .map(([le, count]) => ({ le, count: count - (delayBefore.get(le) ?? 0) }));
    const observed = buckets.at(-1)?.count ?? 0;
    const writtenA = total(afterA, WRITTEN_METRIC) - writtenBefore;

    // Deliveries still on their way, a bounded wait.
    const expected = acked * MEMBERS;
    const deliveriesBy = performance.now() + ANSWERS_MS;
    while (room.delivered() - deliveredBefore < expected && performance.now() < deliveriesBy) await sleep(20);
    const deliveredAll = room.delivered() - deliveredBefore;

    // Phase B. Quiet: the sockets closed, and ClickHouse holding every record the node appended to the log.
    for (const ws of sockets.splice(0)) ws.close();
    // Their connection.closed events to the log (the node flushes operational events every 200 ms).
    await sleep(1_000);
    let appended = 0;
    const settledAt = performance.now();
    const settled = await countsUntil(
      analytics,
      async (c) => {
        appended = total(await scrape(parley), APPENDED_METRIC);
        return rowsOf(c) >= appended;
      },
      settledAt,
      250,
    );
    const full = settled.last;
    const records = rowsOf(full);
    const writtenBeforeB = total(await scrape(parley), WRITTEN_METRIC);
    const out: string[] = [];
    const replayStarted = performance.now();
    const code = await runAnalyticsCommand(['replay', '--clear', '--yes'], parley.config, createLogger('error', 'json'), {
      openStore: async () => ({ store: parley.services.store, close: async () => undefined }),
      out: (line) => out.push(line),
    });
    if (code !== 0) throw new Error(`parley analytics replay --clear --yes exited with ${code}: ${out.join(' ')}`);
    const replayIssued = performance.now();
    // The consumer running in the node finds its group deleted and made again: when it writes again at all is the first figure.
    let firstRows = Number.NaN;
    const replay = await countsUntil(
      analytics,
      (c) => {
        if (Number.isNaN(firstRows) && rowsOf(c) > 0) firstRows = performance.now() - replayIssued;
        return c.events >= full.events && c.ops >= full.ops && c.latencyWindows >= full.latencyWindows;
      },
      replayIssued,
    );
    // As in phase A, the last batch is counted once its inserts are answered: a bounded wait for it.
    let writtenB = 0;
    for (const by = performance.now() + 5_000; performance.now() < by; await sleep(100)) {
      writtenB = total(await scrape(parley), WRITTEN_METRIC) - writtenBeforeB;
      if (writtenB >= records) break;
    }
    const replaySeconds = replay.ms / 1_000;

    const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
    const gaveUp = (last: Counts, want: string) => `gave up after ${CATCH_UP_MS / 1_000} s: ClickHouse had ${last.events} events, ${last.ops} ops, ${last.latencyWindows} windows; wanted ${want}`;
    const rows: Array<[string, string]> = [
      ['members (receivers) / senders', `${MEMBERS} / ${SENDERS}`],
      ['ANALYTICS_BATCH / ANALYTICS_FLUSH_MS', `${parley.config.ANALYTICS_BATCH} / ${parley.config.ANALYTICS_FLUSH_MS}`],
      ['A: offered sends/s', f(RATE)],
      ['A: sends acknowledged', `${acked} of ${sent} (${f(acked / sendSeconds, 1)}/s, ${failed} failed; last answer ${f(answeredSeconds, 2)} s after start)`],
      ['A: deliveries/s (during sending)', f(deliveredInWindow / sendSeconds)],
      ['A: deliveries received / expected', `${deliveredAll} / ${expected}`],
      ['A: analytics delay p50 / p99 (ms, ≈ buckets)', `${f(1_000 * bucketQuantile(buckets, 0.5))} / ${f(1_000 * bucketQuantile(buckets, 0.99))} (${observed} observed)`],
      ['A: max analytics-group pending (/metrics, 1 s)', `${maxPending} (${pendingReads} reads${pendingErrors > 0 ? `, ${pendingErrors} failed` : ''})`],
      ['A: records written by the consumer', f(writtenA)],
      ['A: ClickHouse has every stream event, after last ack (ms)', Number.isFinite(liveCatchUp.ms) ? `${f(liveCatchUp.ms)} (${streamEvents} events in the room, ${liveCatchUp.last.events} in ClickHouse)` : gaveUp(liveCatchUp.last, `${streamEvents} events`)],
      ['B: log records appended by the node / rows before replay', `${appended} / ${records}${Number.isFinite(settled.ms) ? '' : ' (never equal: see below)'}`],
      ['B: records to replay (events + ops + latency windows)', `${records} (${full.events} + ${full.ops} + ${full.latencyWindows})`],
      ['B: replay command (clear + rewind) (ms)', f(replayIssued - replayStarted)],
      ['B: first rows back in ClickHouse, after the rewind (ms)', f(firstRows)],
      ['B: all back in ClickHouse, after the rewind (ms)', Number.isFinite(replay.ms) ? f(replay.ms) : gaveUp(replay.last, `${full.events} / ${full.ops} / ${full.latencyWindows}`)],
      ['B: replay records/s', f(records / replaySeconds)],
      ['B: records written by the consumer', f(writtenB)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log('');
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    if (!Number.isFinite(settled.ms)) console.log(`ClickHouse never held every appended record before the replay (${CATCH_UP_MS / 1_000} s): ${records} rows for ${appended} records.`);
    return Number.isFinite(liveCatchUp.ms) && Number.isFinite(replay.ms);
  } finally {
    clearInterval(pendingPoll);
    for (const ws of sockets) ws.terminate();
    await parley.close();
  }
}

if (NATS_SERVER === undefined) throw new Error('nats-server is not installed');
if (CLICKHOUSE_SERVER === undefined) throw new Error('clickhouse-server is not installed');
const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-analytics-'));
let nats: ServerHandle | undefined;
let clickhouse: ServerHandle | undefined;
try {
  nats = await startNats({ jetStream: true });
  clickhouse = await startClickHouse();
  if (!(await run(nats, clickhouse, dataDir))) {
    console.log('ClickHouse did not catch up in time: the figures above are incomplete.');
    process.exitCode = 1;
  }
} finally {
  await clickhouse?.stop();
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
