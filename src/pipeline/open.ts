/**
 * The event pipeline as the configuration asks for it (docs/architecture.md, "The event
 * pipeline"):
 *
 * - EVENT_LOG=jetstream: the relay follows every room's stream to the log; operational events go
 *   to it through a bounded buffer; the `search` group of the log indexes messages; the groups'
 *   lag is read every few seconds into `parley_event_consumer_pending`.
 * - EVENT_LOG=none: no log; a RoomTail in this process indexes the rooms it committed to.
 */
import type { Config } from '../config.js';
import type { StreamEventRecord } from '../domain/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { Analytics, EventLog, Store } from '../ports.js';
import { ClickHouseAnalytics } from '../adapters/clickhouse/analytics.js';
import { JetStreamLog, type JetStreamLogOptions } from '../adapters/nats/event-log.js';
import { ANALYTICS_GROUP, consumeForAnalytics } from './analytics-consumer.js';
import { DeliveryLatency } from './delivery-latency.js';
import { NO_OPS, OpsEvents, type OpsSink } from './ops-events.js';
import { RELAY_CURSOR, relayTo } from './relay.js';
import { RoomTail } from './room-tail.js';
import { catchUpRoom, consumeForSearch, type IndexObserver, indexRoom, SEARCH_GROUP } from './search-indexer.js';

export const LOG_SUBJECT_PREFIX = 'parley.log';
const LAG_POLL_MS = 5_000;

/** Events one search catches up from the store in a room found behind. */
const CATCH_UP_EVENTS = 2_000;
/** With a log, the repair sweep: rooms whose search cursor stayed behind (a gap, a lost write). */
const REPAIR_SWEEP_MS = 60_000;

export interface Pipeline {
  /** The log, when there is one (analytics consumes it too). */
  log: EventLog | null;
  /** The analytics store, when ANALYTICS names one (the admin reports read it). */
  analytics: Analytics | null;
  ops: OpsSink;
  /** With analytics: a live event committed at `committedAt` was written to one subscriber's socket here (delivery latency, sent to the log every window). */
  delivered: ((committedAt: number) => void) | undefined;
  /** Indexes a room found behind from the store (a search does before it answers). */
  catchUp(roomId: string): Promise<void>;
  /** Handed every committed event (StreamWriter.listen). */
  committed(event: StreamEventRecord): void;
  start(): void;
  /** Stops following and consuming, flushes what is buffered; bounded by the log's timeouts. */
  close(): Promise<void>;
}

export interface PipelineDeps {
  store: Store;
  metrics: Metrics;
  node: string;
  onError(error: unknown, context: string): void;
}

/** The event log's settings, as the configuration gives them. */
export function jetStreamLogOptions(config: Config, onError: JetStreamLogOptions['onError']): JetStreamLogOptions {
  return {
    url: config.EVENT_LOG_URL === '' ? config.NATS_URL : config.EVENT_LOG_URL,
    stream: config.EVENT_LOG_STREAM,
    prefix: LOG_SUBJECT_PREFIX,
    maxAgeMs: config.EVENT_LOG_MAX_AGE_HOURS * 3_600_000,
    maxBytes: config.EVENT_LOG_MAX_BYTES,
    duplicateWindowMs: config.EVENT_LOG_DUPLICATE_WINDOW_S * 1000,
    timeoutMs: config.EVENT_LOG_TIMEOUT_MS,
    onError,
  };
}

export async function openPipeline(config: Config, deps: PipelineDeps): Promise<Pipeline> {
  const { store, metrics, onError } = deps;
  const observer: IndexObserver = {
    indexed: (delays) => {
      for (const d of delays) metrics.searchIndexDelay.observe(d);
    },
    skipped: (count) => metrics.eventLogSkipped.inc({ group: SEARCH_GROUP }, count),
  };
  if (config.EVENT_LOG === 'none') {
    const tail = new RoomTail(store, { consumer: 'search', take: (roomId, events, after) => indexRoom(store, roomId, events, observer, after), onError });
    metrics.streamTailBacklog.labels('search').set(0);
    const gauge = setInterval(() => metrics.streamTailBacklog.set({ consumer: 'search' }, tail.backlog), LAG_POLL_MS).unref();
    return {
      log: null,
      analytics: null,
      ops: NO_OPS,
      delivered: undefined,
      catchUp: (roomId) => catchUpRoom(store, roomId, CATCH_UP_EVENTS, observer),
      committed: (event) => tail.committed(event),
      start: () => tail.start(),
      close: async () => {
        clearInterval(gauge);
        await tail.close();
      },
    };
  }

  const log = await JetStreamLog.open(jetStreamLogOptions(config, onError));
  const relay = new RoomTail(store, { consumer: RELAY_CURSOR, take: relayTo(log, store, (n) => metrics.eventLogAppended.inc({ family: 'stream' }, n)), onError });
  const ops = new OpsEvents(log, {
    node: deps.node,
    onError,
    onDropped: (n) => metrics.eventLogDropped.inc(n),
    onAppended: (n) => metrics.eventLogAppended.inc({ family: 'ops' }, n),
  });
  // The log's group indexes; this sweep only repairs what it left behind (it reads the store).
  const repair = new RoomTail(store, { consumer: 'search', take: (roomId, events, after) => indexRoom(store, roomId, events, observer, after), onError, sweepMs: REPAIR_SWEEP_MS, concurrency: 1 });
  const analytics = analyticsOf(config);
  // Delivery latency is measured only for analytics, which reads it (a cost on every delivery).
  const latency = analytics === null ? null : new DeliveryLatency(ops);
  const groups = analytics === null ? [SEARCH_GROUP] : [SEARCH_GROUP, ANALYTICS_GROUP];
  let stopSearch: (() => Promise<void>) | undefined;
  let stopAnalytics: (() => Promise<void>) | undefined;
  let poll: NodeJS.Timeout | undefined;
  const readLag = async () => {
    for (const group of groups) {
      try {
        const lag = await log.lag(group);
        metrics.eventConsumerPending.set({ group }, lag.pending);
      } catch (error) {
        // The group is made by its first consumer; until then there is no lag to read.
        if (!/not found/i.test(String(error))) onError(error, 'reading the event log lag');
      }
    }
    metrics.streamTailBacklog.set({ consumer: RELAY_CURSOR }, relay.backlog);
  };
  return {
    log,
    analytics,
    ops,
    delivered: latency === null ? undefined : (committedAt) => latency.observe(committedAt),
    catchUp: (roomId) => catchUpRoom(store, roomId, CATCH_UP_EVENTS, observer),
    committed: (event) => relay.committed(event),
    start: () => {
      relay.start();
      repair.start();
      stopSearch = consumeForSearch(log, store, { batch: config.EVENT_LOG_BATCH, observer, onError });
      if (analytics !== null)
        stopAnalytics = consumeForAnalytics(log, analytics, {
          batch: config.ANALYTICS_BATCH,
          gatherMs: config.ANALYTICS_FLUSH_MS,
          onError,
          observer: {
            written: (records, delays) => {
              metrics.analyticsWritten.inc(records);
              for (const d of delays) metrics.analyticsDelay.observe(d);
            },
            skipped: (count) => metrics.eventLogSkipped.inc({ group: ANALYTICS_GROUP }, count),
          },
        });
      latency?.start();
      poll = setInterval(() => void readLag(), LAG_POLL_MS).unref();
    },
    close: async () => {
      clearInterval(poll);
      await relay.close();
      await repair.close();
      await stopSearch?.();
      await stopAnalytics?.();
      latency?.close();
      await ops.close().catch((error: unknown) => onError(error, 'flushing operational events'));
      await log.close();
    },
  };
}

/** The analytics store the configuration names, or null. */
export function analyticsOf(config: Config): Analytics | null {
  if (config.ANALYTICS === 'none') return null;
  return new ClickHouseAnalytics({ url: config.ANALYTICS_URL, database: config.ANALYTICS_DATABASE, timeoutMs: config.ANALYTICS_TIMEOUT_MS });
}
