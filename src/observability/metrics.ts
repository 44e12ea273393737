/**
 * Prometheus metrics of one process (prom-client). Names follow Prometheus conventions: base
 * units (seconds, bytes), `_total` on counters, and only bounded label sets: an operation, a
 * route pattern, a close code from a fixed list; never a room, user or connection id.
 *
 * In cluster mode each worker keeps its own registry and the primary sums them on request
 * (see cluster-metrics.ts), so `/metrics` on any worker answers for the whole node.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { socketWritesSoFar } from '../realtime/write-scheduler.js';
import { CLIENT_OPS } from '../protocol/ops.js';

/** Latency buckets, seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** WebSocket close codes worth telling apart; any other is counted as `other`. */
const CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1008, 1009, 1011, 1012, 1013, 4008, 4009]);

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly wsConnects = new Counter({ name: 'parley_ws_connects_total', help: 'WebSocket connections accepted.', registers: [this.registry] });
  readonly wsDisconnects = new Counter({
    name: 'parley_ws_disconnects_total',
    help: 'WebSocket connections closed, by close code (unlisted codes as "other").',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly wsUpgradesRefused = new Counter({
    name: 'parley_ws_upgrades_refused_total',
    help: 'WebSocket upgrades refused before the 101, by HTTP status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly wsFramesReceived = new Counter({
    name: 'parley_ws_frames_received_total',
    help: 'WebSocket frames received, by op ("invalid" for frames that fail validation).',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly wsFramesSent = new Counter({
    name: 'parley_ws_frames_sent_total',
    help: 'WebSocket frames queued for sending, by type: reply, event (room stream), other (typing, presence, read, room changes).',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly slowConsumerCloses = new Counter({
    name: 'parley_ws_slow_consumer_closes_total',
    help: 'Connections closed with 4009 because their unsent backlog passed the limit.',
    registers: [this.registry],
  });

  readonly messagesSent = new Counter({ name: 'parley_messages_sent_total', help: 'Messages committed to the store (new messages, not retries of one).', registers: [this.registry] });
  readonly eventsDelivered = new Counter({ name: 'parley_events_delivered_total', help: 'Room stream events written to local sockets, live or replayed.', registers: [this.registry] });
  readonly sendCommitDuration = new Histogram({
    name: 'parley_send_commit_seconds',
    help: 'From an append (send, edit, delete, join, leave) being queued to its commit: group-commit wait plus the transaction.',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly groupCommitBatchSize = new Histogram({
    name: 'parley_group_commit_batch_size',
    help: 'Appends committed per transaction.',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly groupCommitFailures = new Counter({ name: 'parley_group_commit_failures_total', help: 'Group-commit transactions that failed (their appends answered unavailable).', registers: [this.registry] });

  readonly busPublished = new Counter({ name: 'parley_bus_published_total', help: 'Messages published on the bus.', registers: [this.registry] });
  readonly busReceived = new Counter({ name: 'parley_bus_received_total', help: 'Messages received from the bus (once per local channel handler).', registers: [this.registry] });
  readonly busPublishFailures = new Counter({ name: 'parley_bus_publish_failures_total', help: 'Bus publishes that failed (receivers repair the gap from the store).', registers: [this.registry] });
  readonly busDropped = new Counter({
    name: 'parley_bus_dropped_total',
    help: 'Bus messages received and dropped unread, by reason (version: an envelope version this node does not read). The room of each is resynced from the store.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly busResets = new Counter({ name: 'parley_bus_resets_total', help: 'Reconnections of the bus client, each followed by a resync of every open room.', registers: [this.registry] });
  readonly eventLogAppended = new Counter({ name: 'parley_event_log_appended_total', help: 'Records appended to the event log, by family (stream, ops).', labelNames: ['family'], registers: [this.registry] });
  readonly eventLogDropped = new Counter({ name: 'parley_event_log_ops_dropped_total', help: 'Operational events dropped because their buffer was full while the event log was down.', registers: [this.registry] });
  readonly eventLogSkipped = new Counter({ name: 'parley_event_log_skipped_total', help: 'Records of the event log a consumer could not read (another version), skipped.', labelNames: ['group'], registers: [this.registry] });
  readonly eventConsumerPending = new Gauge({
    name: 'parley_event_consumer_pending',
    help: 'Records of the event log a consumer group has not acknowledged yet (its lag), as last read from the log.',
    labelNames: ['group'],
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly streamTailBacklog = new Gauge({ name: 'parley_stream_tail_backlog_rooms', help: 'Rooms this process knows are behind a stream consumer (relay to the log, or search indexing without a log).', labelNames: ['consumer'], registers: [this.registry] });
  readonly searchIndexDelay = new Histogram({
    name: 'parley_search_index_delay_seconds',
    help: 'From an event\'s commit to its text being searchable.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly analyticsWritten = new Counter({ name: 'parley_analytics_written_total', help: 'Records of the event log the analytics consumer wrote to ClickHouse (a batch handed again counts again).', registers: [this.registry] });
  readonly analyticsDelay = new Histogram({
    name: 'parley_analytics_delay_seconds',
    help: 'From a record\'s storing in the event log to its write to analytics (first deliveries).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly wsSocketWrites = (() => {
    let counted = 0;
    return new Counter({
      name: 'parley_ws_socket_writes_total',
      help: 'Writes of queued frames to client sockets, one per socket per flush (events written divided by it: frames per write, the syscalls a delivery shares).',
      registers: [this.registry],
      collect() {
        const now = socketWritesSoFar();
        this.inc(now - counted);
        counted = now;
      },
    });
  })();
  readonly gapFills = new Counter({ name: 'parley_ordering_gap_fills_total', help: 'Reads of missing room events from the store by the ordering buffer (gaps and resyncs).', registers: [this.registry] });
  readonly hubEventReads = new Counter({
    name: 'parley_room_hub_event_reads_total',
    help: "Pages of a room's events read from the store by the room hub: for the ordering buffer (reason gap: gaps, resyncs) or for subscribers catching up past the room's memory (reason catch_up: one read for all who wait on the same page).",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly gapFilledEvents = new Counter({ name: 'parley_ordering_gap_filled_events_total', help: 'Events released from the store by gap fills.', registers: [this.registry] });

  readonly presenceRoomLoads = new Counter({
    name: 'parley_presence_room_loads_total',
    help: 'Online members of a room read from presence: once per room opened on this node, then kept from the announcements.',
    registers: [this.registry],
  });
  readonly presenceFrames = new Counter({
    name: 'parley_presence_frames_total',
    help: 'Presence frames written to local sockets, by type (presence: one per change; presence_batch: one per room window).',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly storeQueryDuration = new Histogram({
    name: 'parley_store_query_duration_seconds',
    help: 'Store calls, by operation (the Store method), successful or not.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly redisCommandDuration = new Histogram({
    name: 'parley_redis_command_duration_seconds',
    help: 'Redis commands of sessions, cache, rate limits and presence, by command name, successful or not.',
    labelNames: ['command', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly publishDeliverDuration = new Histogram({
    name: 'parley_publish_deliver_seconds',
    help: 'From the publish of a bus message on one process to its receipt here, where room events are released to sockets at once unless a gap holds them (clocks of different machines must be in sync).',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'parley_rate_limited_total',
    help: 'Requests refused by a rate limit, by limit: send, auth, profile, frame, connections (per user).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly breakerTransitions = new Counter({
    name: 'parley_breaker_transitions_total',
    help: 'Circuit breaker state changes, by breaker (store, redis, bus, jobs; webhook for every endpoint together) and state entered (open, half_open, closed).',
    labelNames: ['breaker', 'to'] as const,
    registers: [this.registry],
  });
  readonly breakerRejected = new Counter({
    name: 'parley_breaker_rejected_total',
    help: 'Calls refused at once because their breaker was open (answered unavailable without reaching the dependency), by breaker.',
    labelNames: ['breaker'] as const,
    registers: [this.registry],
  });
  readonly shed = new Counter({
    name: 'parley_shed_total',
    help: 'Work turned away while the event loop lagged past LOAD_SHED_LAG_MS, by kind: rest (503), ws (upgrade closed with 1013).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly #framesReceived = new Map<string, Counter.Internal>();
  readonly #replies = this.wsFramesSent.labels('reply');
  readonly #events = this.wsFramesSent.labels('event');
  readonly #other = this.wsFramesSent.labels('other');

  /**
   * `caches`: hit and miss counts of each cache, read at scrape time (the caches count; the
   * registry turns the counts into `parley_cache_requests_total`).
   */
  /**
   * `breakers`: the worst state (0 closed, 1 half-open, 2 open) of each kind of breaker; `load`:
   * the load shedder's view. Both read at scrape time.
   */
  constructor(options: {
    connections: () => number;
    caches?: () => Record<string, { hits: number; misses: number }>;
    breakers?: () => Map<string, number>;
    load?: () => { lagSeconds: number; shedding: boolean };
  }) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    new Gauge({
      name: 'parley_ws_connections',
      help: 'Open WebSocket connections.',
      registers: [this.registry],
      collect() {
        this.set(options.connections());
      },
    });
    const reported = new Map<string, number>();
    new Counter({
      name: 'parley_cache_requests_total',
      help: 'Cache lookups by cache (membership, member_lists, sessions, history) and result (hit, miss).',
      labelNames: ['cache', 'result'] as const,
      registers: [this.registry],
      collect() {
        for (const [cache, counts] of Object.entries(options.caches?.() ?? {})) {
          for (const result of ['hit', 'miss'] as const) {
            const now = result === 'hit' ? counts.hits : counts.misses;
            const key = `${cache}/${result}`;
            this.labels(cache, result).inc(Math.max(0, now - (reported.get(key) ?? 0)));
            reported.set(key, now);
          }
        }
      },
    });
    let last = performance.eventLoopUtilization();
    new Gauge({
      name: 'parley_event_loop_utilization_ratio',
      help: 'Share of time the event loop was busy since the previous scrape (0 to 1; summed over the workers of a node).',
      registers: [this.registry],
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, last).utilization);
        last = now;
      },
    });
    // A node is as bad as its worst worker: merged by max, not summed (see cluster-metrics.ts).
    new Gauge({
      name: 'parley_breaker_state',
      help: 'Circuit breaker state, by breaker: 0 closed, 1 half-open (one probe call let through), 2 open (calls refused at once). For webhook, the worst of its endpoints.',
      labelNames: ['breaker'] as const,
      aggregator: 'max',
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [breaker, state] of options.breakers?.() ?? []) this.labels(breaker).set(state);
      },
    });
    new Gauge({
      name: 'parley_event_loop_lag_seconds',
      help: 'Event-loop lag as the load shedder sees it: sampled every 100 ms, smoothed.',
      aggregator: 'max',
      registers: [this.registry],
      collect() {
        this.set(options.load?.().lagSeconds ?? 0);
      },
    });
    new Gauge({
      name: 'parley_load_shedding',
      help: '1 while new REST requests and WebSocket upgrades are turned away for event-loop lag (LOAD_SHED_LAG_MS), else 0.',
      aggregator: 'max',
      registers: [this.registry],
      collect() {
        this.set(options.load?.().shedding === true ? 1 : 0);
      },
    });
    // Every series of a fixed label set exists from the start (at 0), so rates and dashboards
    // have data before the first event of each kind.
    for (const op of [...CLIENT_OPS, 'invalid']) {
      const child = this.wsFramesReceived.labels(op);
      child.inc(0);
      this.#framesReceived.set(op, child);
    }
    for (const limit of ['send', 'auth', 'profile', 'frame', 'connections']) this.rateLimited.labels(limit).inc(0);
    for (const kind of ['rest', 'ws']) this.shed.labels(kind).inc(0);
    this.busDropped.labels('version').inc(0);
    for (const code of [...CLOSE_CODES, 'other']) this.wsDisconnects.labels(String(code)).inc(0);
    for (const child of [this.#replies, this.#events, this.#other]) child.inc(0);
  }

  /** A kind of breaker exists: its series start at 0. */
  breakerCreated(kind: string): void {
    this.breakerRejected.labels(kind).inc(0);
    for (const to of ['open', 'half_open', 'closed']) this.breakerTransitions.labels(kind, to).inc(0);
  }

  /** The close code as a label: one of a fixed list, or `other`. */
  static closeCodeLabel(code: number): string {
    return CLOSE_CODES.has(code) ? String(code) : 'other';
  }

  /** Counts a received frame by its op: a known op, or `invalid` (the hot path: no label lookup). */
  frameReceived(op: string): void {
    (this.#framesReceived.get(op) ?? (this.#framesReceived.get('invalid') as Counter.Internal)).inc();
  }

  replySent(): void {
    this.#replies.inc();
  }

  /** Room stream events written to sockets (live or replayed). */
  eventsWritten(count: number): void {
    this.#events.inc(count);
    this.eventsDelivered.inc(count);
  }

  /** Frames other than replies and stream events: typing, presence, read, room changes. */
  otherFramesWritten(count: number): void {
    this.#other.inc(count);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A counter's total over its labels (read by the node's status, src/realtime/node-directory.ts). */
export async function counterTotal(counter: Counter): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}
