/**
 * How far the event pipeline trails a room under fan-out. A NATS server with JetStream started
 * here on a free port; one Parley node in this process on its embedded store with
 * EVENT_LOG=jetstream; one public room whose members each hold a subscribed WebSocket, and a
 * few senders sending into it at a steady total rate. Meanwhile a reader of its own consumes
 * the log as group `bench-reader` from the first record. Prints sends and deliveries per
 * second, the relay lag (commit to stored in the log), the search index delay
 * (parley_search_index_delay_seconds, from its buckets), the most records the `search` group
 * had pending, and how long after the last acknowledged send the log and the search index
 * held everything.
 *
 *   npx tsx bench/pipeline.ts [--members 500] [--senders 10] [--seconds 20] [--rate 200]
 *
 * The clients, the node and the NATS server share this machine (the clients share the node's
 * event loop): compare runs on the same machine, not with a deployment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import { JetStreamLog } from '../src/adapters/nats/event-log.js';
import { startParley } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { jetStreamLogOptions } from '../src/pipeline/open.js';
import { decodeRecord } from '../src/pipeline/records.js';
import { bucketQuantile, histogramBuckets, openSocket, request, scrape, sleep, subscribedRoom } from './in-process.js';
import { call } from './rest.js';
import { NATS_SERVER, type ServerHandle, startNats } from '../test/support/services.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '500' },
    senders: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '20' },
    /** Total sends per second over all senders. */
    rate: { type: 'string', default: '200' },
  },
});
const MEMBERS = Number(values.members);
const SENDERS = Number(values.senders);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
/** In every message body, so one search finds them all. */
const WORD = 'pipelinemark';
/** Longest wait for the log and the search index to catch up after the last send. */
const CATCH_UP_MS = 60_000;
const READER_GROUP = 'bench-reader';
const DELAY_METRIC = 'parley_search_index_delay_seconds';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};


async function run(nats: ServerHandle, dataDir: string): Promise<void> {
  const parley = await startParley(
    testConfig({
      PORT: 0,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      SCRYPT_COST: 10,
      EVENT_LOG: 'jetstream',
      EVENT_LOG_URL: nats.url,
      SEND_RATE_PER_SEC: 100_000,
      SEND_BURST: 100_000,
      FRAME_RATE_PER_SEC: 100_000,
      FRAME_BURST: 100_000,
      AUTH_RATE_PER_MIN: 100_000,
      LOAD_SHED_LAG_MS: 0,
    }),
  );
  const sockets: WebSocket[] = [];
  let reader: JetStreamLog | undefined;
  try {
    const url = parley.url;
    const room = await subscribedRoom(parley, { name: 'pipeline', members: MEMBERS, senders: SENDERS, sockets });
    const { roomId, members, senders } = room;

    // Senders: one connection each, replies matched by id.
    const acked = new Map<string, number>();
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

    // The reader: its own connection, its own group, from the first record.
    reader = await JetStreamLog.open(jetStreamLogOptions(parley.config, (error, context) => process.stderr.write(`${context}: ${String(error)}\n`)));
    const runStartedAt = Date.now();
    const relayLags: number[] = [];
    /** When the reader saw each message, by id (performance.now()). */
    const inLog = new Map<string, number>();
    const log = reader;
    reader.consume(READER_GROUP, { families: ['stream'], batch: 256, startAt: 'first' }, async (batch) => {
      const now = performance.now();
      for (const entry of batch) {
        const record = decodeRecord(entry);
        if (record?.type !== 'stream' || record.event.roomId !== roomId) continue;
        if (record.event.createdAt >= runStartedAt) relayLags.push(entry.storedAt - record.event.createdAt);
        const id = record.event.message?.id;
        if (record.event.kind === 'message' && id !== undefined && !inLog.has(id)) inLog.set(id, now);
      }
    });
    let maxSearchPending = 0;
    let lagErrors = 0;
    const lagPoll = setInterval(() => {
      log.lag('search').then(
        (lag) => (maxSearchPending = Math.max(maxSearchPending, lag.pending)),
        () => lagErrors++,
      );
    }, 500);

    const metricsBefore = histogramBuckets(await scrape(parley), DELAY_METRIC);
    process.stderr.write(`${MEMBERS} members subscribed, ${SENDERS} senders; sending ${RATE}/s for ${SECONDS} s\n`);

    // Open loop: sends fall due at the offered rate whether or not earlier ones were answered.
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
          request(s.ws, s.pending, id, { type: 'send', roomId, body: `${WORD} ${n}` }).then((reply) => {
            const message = reply.message as { id?: string } | undefined;
            if (reply.ok === true && message?.id !== undefined) {
              acked.set(message.id, n);
              lastAckAt = performance.now();
            } else failed++;
          }),
        );
      }
      await sleep(5);
    }
    const sendSeconds = (performance.now() - started) / 1_000;
    const deliveredInWindow = room.delivered() - deliveredBefore;
    await Promise.race([Promise.all(answers), sleep(CATCH_UP_MS)]);
    const answeredSeconds = (lastAckAt - started) / 1_000;

    // Catch-up: every acknowledged message in the log, and the search index with nothing pending.
    const waitUntil = performance.now() + CATCH_UP_MS;
    let logCaughtUp = Number.NaN;
    while (performance.now() < waitUntil) {
      if ([...acked.keys()].every((id) => inLog.has(id))) {
        logCaughtUp = Math.max(...[...acked.keys()].map((id) => inLog.get(id) as number)) - lastAckAt;
        break;
      }
      await sleep(10);
    }
    let searchCaughtUp = Number.NaN;
    const member = members[0] as string;
    while (performance.now() < waitUntil) {
      const answer = await call(url, 'GET', `/search?q=${WORD}&roomId=${roomId}`, member);
      if ((answer.index as { pending?: number } | undefined)?.pending === 0) {
        searchCaughtUp = performance.now() - lastAckAt;
        break;
      }
      await sleep(25);
    }
    // Deliveries still on their way, a bounded wait.
    const expected = acked.size * MEMBERS;
    const deliveriesBy = performance.now() + 10_000;
    while (room.delivered() - deliveredBefore < expected && performance.now() < deliveriesBy) await sleep(20);
    clearInterval(lagPoll);

    const samples = await scrape(parley);
    const after = histogramBuckets(samples, DELAY_METRIC);
    const buckets = [...after]
      .sort((a, b) => a[0] - b[0])
      .map(([le, count]) => ({ le, count: count - (metricsBefore.get(le) ?? 0) }));
    const indexed = buckets.at(-1)?.count ?? 0;
    const appended = samples.find((s) => s.name === 'parley_event_log_appended_total' && s.labels.family === 'stream')?.value ?? 0;

    const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
    const rows: Array<[string, string]> = [
      ['members (receivers) / senders', `${MEMBERS} / ${SENDERS}`],
      ['offered sends/s', f(RATE)],
      ['achieved sends/s (acknowledged)', `${f(acked.size / sendSeconds, 1)} (${acked.size} of ${sent}, ${failed} failed; last answer ${f(answeredSeconds, 2)} s after start)`],
      ['deliveries/s (during sending)', f(deliveredInWindow / sendSeconds)],
      ['deliveries received / expected', `${room.delivered() - deliveredBefore} / ${expected}`],
      ['relay lag p50 / p99 / max (ms)', `${f(pct(relayLags, 50))} / ${f(pct(relayLags, 99))} / ${f(Math.max(...relayLags))} (${relayLags.length} records)`],
      ['search index delay p50 / p99 (ms, ≈ buckets)', `${f(1_000 * bucketQuantile(buckets, 0.5))} / ${f(1_000 * bucketQuantile(buckets, 0.99))} (${indexed} observed)`],
      ['max search-group pending (500 ms samples)', `${maxSearchPending}${lagErrors > 0 ? ` (${lagErrors} failed reads)` : ''}`],
      ['log has every ack, after last ack (ms)', f(logCaughtUp)],
      ['search index.pending 0, after last ack (ms)', f(searchCaughtUp)],
      ['stream records appended by the node', f(appended)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log('');
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  } finally {
    for (const ws of sockets) ws.terminate();
    await reader?.close();
    await parley.close();
  }
}

if (NATS_SERVER === undefined) throw new Error('nats-server is not installed');
const nats = await startNats({ jetStream: true });
const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-pipeline-'));
try {
  await run(nats, dataDir);
} finally {
  await nats.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
