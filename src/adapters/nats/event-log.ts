/**
 * The event log on NATS JetStream: one stream (`EVENT_LOG_STREAM`, file storage) over the
 * subjects `<prefix>.<family>.<name>`, records deduplicated by their id (`Nats-Msg-Id`) within
 * the stream's duplicate window. A consumer group is a durable pull consumer of that name with
 * explicit acks: the offsets are JetStream's. Its `max_ack_pending` is one batch: at most that
 * many records of a group are out at a time across every process that consumes it.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, DiscardPolicy, type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager, type JsMsg, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumeOptions, ConsumerLag, EventLog, LogEntry, LogRecord } from '../../ports.js';
import { unavailable } from '../../errors.js';
import { translateOutage } from '../outage.js';
import { drainWithin } from './drain.js';

export interface JetStreamLogOptions {
  url: string;
  stream: string;
  /** Subjects are `<prefix>.<family>.<name>`. */
  prefix: string;
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  /** Each call to JetStream, ms. */
  timeoutMs: number;
  onError(error: unknown, context: string): void;
}

/**
 * A batch not acknowledged in this time is handed to the group again (a handler still at work
 * tells the server so every ACK_WAIT_MS / 2). Short, because after a crash of the server its
 * restored consumer state may count records as handed out whose acks it lost: the group waits
 * this long for them.
 */
const ACK_WAIT_MS = 10_000;
/**
 * Attempts at an acknowledgement the server did not confirm. Few: a server restarted from a
 * crash may not know the delivery any more and never confirms; it hands the record again.
 */
const ACK_ATTEMPTS = 3;
/** A batch whose handler failed is handed again after this. */
const NAK_DELAY_MS = 1_000;
/** After the first record, how long a consumer waits for more to fill its batch. */
const GATHER_MS = 5;
const PULL_EXPIRES_MS = 5_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
const DRAIN_TIMEOUT_MS = 2_000;

const nanos = (ms: number): number => ms * 1_000_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
const notFound = (error: unknown): boolean => /not found/i.test(String((error as Error)?.message ?? error));
const asOutage = (error: unknown): unknown => translateOutage(error, () => true, 'The event log is unavailable; retry shortly.');

export class JetStreamLog implements EventLog {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #options: JetStreamLogOptions;
  readonly #running = new Set<() => Promise<void>>();
  /** Told when the connection came back: each consumer starts its pulls afresh. */
  readonly #reconnected = new Set<() => void>();
  #closed = false;

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, options: JetStreamLogOptions) {
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#options = options;
    void this.#watch();
  }

  async #watch(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type === 'reconnect') for (const restart of this.#reconnected) restart();
      }
    } catch (error) {
      if (!this.#closed) this.#options.onError(error, 'event log connection');
    }
  }

  /** Connects and makes the stream (or brings its limits up to date). */
  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const nc = await connect({ servers: options.url, name: 'parley-event-log', timeout: options.timeoutMs, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000, maxPingOut: 2 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs });
      const config = {
        subjects: [`${options.prefix}.>`],
        max_age: nanos(options.maxAgeMs),
        max_bytes: options.maxBytes,
        duplicate_window: nanos(options.duplicateWindowMs),
        discard: DiscardPolicy.Old,
      };
      try {
        await jsm.streams.info(options.stream);
        await jsm.streams.update(options.stream, config);
      } catch (error) {
        if (!notFound(error)) throw error;
        await jsm.streams.add({ name: options.stream, storage: StorageType.File, retention: RetentionPolicy.Limits, ...config });
      }
      return new JetStreamLog(nc, jetstream(nc, { timeout: options.timeoutMs }), jsm, options);
    } catch (error) {
      await nc.close();
      throw asOutage(error);
    }
  }

  async append(records: LogRecord[]): Promise<{ stored: number }> {
    // Published together: one connection keeps their order; the stream stores each id once.
    try {
      const acks = await Promise.all(records.map((r) => this.#js.publish(`${this.#options.prefix}.${r.subject}`, r.data, { msgID: r.id, timeout: this.#options.timeoutMs })));
      return { stored: acks.filter((a) => !a.duplicate).length };
    } catch (error) {
      throw asOutage(error);
    }
  }

  consume(group: string, options: ConsumeOptions, handle: (batch: LogEntry[]) => Promise<void>): () => Promise<void> {
    let stopped = false;
    let stopMessages: (() => void) | undefined;
    let wake: (() => void) | undefined;
    // One family is filtered by the server; several (JetStream before 2.10 filters one subject) here.
    const families = options.families ?? [];
    const wanted = (subject: string) => families.length <= 1 || families.some((f) => subject.startsWith(`${f}.`));
    const run = async () => {
      let delay = RETRY_MIN_MS;
      while (!stopped) {
        try {
          await this.#ensureGroup(group, options);
          const consumer = await this.#js.consumers.get(this.#options.stream, group);
          // Pulls that expire every few seconds: after a restart of the server the consumer
          // notices missing heartbeats within that time and pulls again.
          // A group deleted under it (a rewind) ends the pulls, and the loop makes or finds it
          // again at once, rather than waiting on heartbeats for it to come back.
          const messages = await consumer.consume({ max_messages: options.batch, expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
          stopMessages = () => messages.stop();
          // After a reconnection the server may deliver what it hands again to pulls this
          // client no longer reads: the iterator is replaced by a new one.
          const restart = () => messages.stop();
          this.#reconnected.add(restart);
          const buffer: JsMsg[] = [];
          let ended = false;
          // The pulls end with an error when the group is deleted (a rewind) or the server is
          // lost: kept here and thrown once the loop below is done with what it holds (the
          // retry below makes or finds the group again), never left as an unhandled rejection.
          let pumpError: unknown;
          const pump = (async () => {
            try {
              for await (const m of messages) {
                buffer.push(m);
                wake?.();
              }
            } catch (error) {
              pumpError = error;
            } finally {
              ended = true;
              wake?.();
            }
          })();
          while (!stopped) {
            if (buffer.length === 0) {
              if (ended) break;
              await new Promise<void>((resolve) => (wake = resolve));
              wake = undefined;
              continue;
            }
            // Gathers a fuller batch, up to gatherMs after the first record, unless it fills.
            if (buffer.length < options.batch) {
              let timedOut = false;
              const timer = setTimeout(() => {
                timedOut = true;
                wake?.();
              }, options.gatherMs ?? GATHER_MS).unref();
              while (buffer.length < options.batch && !ended && !stopped && !timedOut) {
                await new Promise<void>((resolve) => (wake = resolve));
                wake = undefined;
              }
              clearTimeout(timer);
            }
            const taken = buffer.splice(0, options.batch);
            try {
              const entries = taken.map((m) => this.#entry(m)).filter((e) => wanted(e.subject));
              if (entries.length > 0) {
                const working = setInterval(() => {
                  for (const m of taken) m.working();
                }, ACK_WAIT_MS / 2);
                try {
                  await handle(entries);
                } finally {
                  clearInterval(working);
                }
              }
              await this.#acknowledge(taken, () => stopped);
              delay = RETRY_MIN_MS;
            } catch (error) {
              for (const m of taken) m.nak(NAK_DELAY_MS);
              this.#options.onError(error, `event log consumer ${group}`);
              await sleep(delay);
              delay = Math.min(delay * 2, RETRY_MAX_MS);
            }
          }
          // Records taken but not handled go back to the group at once.
          for (const m of buffer.splice(0)) m.nak();
          this.#reconnected.delete(restart);
          messages.stop();
          await pump;
          if (pumpError !== undefined && !stopped) throw pumpError;
        } catch (error) {
          if (stopped || this.#closed) return;
          this.#options.onError(asOutage(error), `event log consumer ${group}`);
          await sleep(delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
    };
    const done = run();
    const stop = async () => {
      stopped = true;
      stopMessages?.();
      wake?.();
      await done;
      this.#running.delete(stop);
    };
    this.#running.add(stop);
    return stop;
  }

  async lag(group: string): Promise<ConsumerLag> {
    try {
      const info = await this.#jsm.consumers.info(this.#options.stream, group);
      return { group, pending: info.num_pending + info.num_ack_pending, acknowledged: info.ack_floor.stream_seq };
    } catch (error) {
      throw asOutage(error);
    }
  }

  async rewind(group: string, offset: number): Promise<void> {
    try {
      const info = await this.#jsm.consumers.info(this.#options.stream, group);
      const { deliver_policy: _p, opt_start_seq: _s, opt_start_time: _t, ...config } = info.config;
      // A process of the group that noticed the deletion may make the group again (from the
      // first record) between the delete and the add: delete that one and add again.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#jsm.consumers.delete(this.#options.stream, group);
        } catch (error) {
          if (!notFound(error)) throw error;
        }
        try {
          await this.#jsm.consumers.add(this.#options.stream, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, offset) });
          return;
        } catch (error) {
          if (attempt >= 3 || !/already (in use|exists)/i.test(String((error as Error)?.message ?? error))) throw error;
        }
      }
    } catch (error) {
      if (notFound(error)) throw error;
      throw asOutage(error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#running].map((stop) => stop()));
    await drainWithin(this.#nc, DRAIN_TIMEOUT_MS);
  }

  /**
   * Acknowledges a handled batch and waits for the server to confirm it. An ack lost with the
   * connection would hold the group for ACK_WAIT_MS (its records count against
   * max_ack_pending until then), so unconfirmed acks are sent again until the server has them.
   */
  async #acknowledge(taken: JsMsg[], stopped: () => boolean): Promise<void> {
    let left = taken;
    let delay = RETRY_MIN_MS;
    for (let attempt = 0; left.length > 0; attempt++) {
      const results = await Promise.allSettled(left.map((m) => m.ackAck({ timeout: this.#options.timeoutMs })));
      left = left.filter((_, i) => results[i]?.status === 'rejected' || (results[i] as PromiseFulfilledResult<boolean>).value === false);
      if (left.length === 0 || stopped() || this.#closed || attempt >= ACK_ATTEMPTS) break;
      await sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
    // Not confirmed after every attempt: the group gets them again after ACK_WAIT_MS (handlers are idempotent).
    if (left.length > 0) this.#options.onError(unavailable(`${left.length} acknowledgements were not confirmed; those records will be handed again`), 'event log consumer');
  }

  /** Makes the group's durable consumer if it is not there. */
  async #ensureGroup(group: string, options: ConsumeOptions): Promise<void> {
    try {
      await this.#jsm.consumers.info(this.#options.stream, group);
      return;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    const start = options.startAt ?? 'first';
    const families = options.families ?? [];
    await this.#jsm.consumers.add(this.#options.stream, {
      durable_name: group,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: options.batch,
      max_deliver: -1,
      ...(families.length === 1 ? { filter_subject: `${this.#options.prefix}.${families[0]}.>` } : {}),
      ...(start === 'first' ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start) }),
    });
  }

  #entry(m: JsMsg): LogEntry {
    return {
      id: m.headers?.get('Nats-Msg-Id') ?? '',
      subject: m.subject.slice(this.#options.prefix.length + 1),
      data: m.string(),
      offset: m.seq,
      storedAt: Math.floor(m.info.timestampNanos / 1_000_000),
      redelivered: Math.max(0, m.info.deliveryCount - 1),
    };
  }
}
