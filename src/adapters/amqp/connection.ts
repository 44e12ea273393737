/**
 * One connection to RabbitMQ, kept up: it reconnects with jittered exponential backoff after
 * the connection drops (the broker restarted, the socket was cut, heartbeats stopped coming),
 * and tells its listeners each time it is up or down, so that consumers are set up again.
 *
 * Publishing goes through one confirm channel: `publish` resolves only once the broker confirmed
 * the message, which for a persistent message to a durable queue means it was written. Each
 * publish is mandatory: a message no queue took (the queue was deleted under us) comes back
 * and the publish fails instead of the message vanishing.
 *
 * Nothing waits on a connection that is not there: while it is down every call is answered
 * `unavailable` at once, and every call made while it is up has a timeout (`callTimeoutMs`)
 * after which it is answered `unavailable` too. Every 'error' and 'close' of the connection and
 * of each channel it opens has a listener: a broker outage fails calls, never the process.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { AppError, unavailable } from '../../errors.js';
import { backoffDelay } from '../../jobs/backoff.js';
import { type ConnectionMonitor, isAmqpOutage, translateOutage } from '../outage.js';
import type { EncodedMessage } from './codec.js';
import { withDeadline } from '../deadline.js';

export interface AmqpConnectionOptions {
  url: string;
  /** Shown by the broker for the connection (`rabbitmqctl list_connections client_properties`). */
  name: string;
  /** A connection attempt (TCP and the AMQP handshake) gives up after this, ms. */
  connectTimeoutMs: number;
  /** Heartbeat interval, s: a connection that stops answering is dropped after about twice it. */
  heartbeatSeconds: number;
  /** Every call to the broker (a publish confirm, a declaration, a get) gives up after this, ms. */
  callTimeoutMs: number;
  /** The wait before reconnection attempt n: base·2^(n-1) capped at max, with full jitter, ms. */
  reconnect: { baseMs: number; maxMs: number };
  /** Told when the connection is lost and when it is back (logs the outage once). */
  monitor?: ConnectionMonitor | undefined;
  random: () => number;
}

/** The connection while it is up: its model and its confirm channel. */
export interface Link {
  readonly model: ChannelModel;
  readonly publisher: ConfirmChannel;
  /** Counts the connections made: a link of an older generation is gone. */
  readonly generation: number;
}

export interface LinkListener {
  up(link: Link): void;
  down(link: Link): void;
}

/** A mandatory publish no queue took: its queue does not exist (any more). */
export class UnroutableError extends Error {
  override readonly name = 'UnroutableError';
}

const OUTAGE_MESSAGE = 'RabbitMQ is unavailable; retry shortly.';

/** `error` in the domain's terms: an outage is `unavailable`, anything else stays what it is. */
export const translateAmqp = (error: unknown): unknown => translateOutage(error, isAmqpOutage, OUTAGE_MESSAGE);

/** `promise`, or `unavailable` once `ms` passed without its answer. */
export function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, () => unavailable(`RabbitMQ did not answer within ${ms} ms (${what}).`));
}

export class AmqpConnection {
  readonly #options: AmqpConnectionOptions;
  readonly #listeners = new Set<LinkListener>();
  /** Correlation ids of publishes the broker returned unrouted; their confirm follows. */
  readonly #returned = new Set<string>();
  #link: Link | null = null;
  #generation = 0;
  #attempts = 0;
  /** The connection attempt in progress. */
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #blocked: string | null = null;
  #closed = false;
  #published = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: AmqpConnectionOptions) {
    this.#options = options;
  }

  get callTimeoutMs(): number {
    return this.#options.callTimeoutMs;
  }

  /** Starts connecting, in the background. */
  start(): void {
    if (!this.#closed && this.#link === null && this.#connecting === null) this.#connecting = this.#connect();
  }

  /** The link while the connection is up. */
  get link(): Link | null {
    return this.#link;
  }

  /** The link, or `unavailable` at once while the connection is down. */
  require(): Link {
    if (this.#closed) throw new Error('The job queue is closed.');
    if (this.#link === null) throw unavailable(OUTAGE_MESSAGE);
    return this.#link;
  }

  /** Resolves once the connection is up; `unavailable` after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    if (this.#link !== null) return Promise.resolve();
    let resolve: () => void = () => undefined;
    const up = new Promise<void>((r) => {
      resolve = r;
    });
    this.#waiters.add(resolve);
    return timed(up, timeoutMs, 'connecting').finally(() => this.#waiters.delete(resolve));
  }

  listen(listener: LinkListener): void {
    this.#listeners.add(listener);
  }

  /** Publishes to a queue through the default exchange; resolves once the broker confirmed it. */
  publish(queue: string, message: EncodedMessage): Promise<void> {
    let link: Link;
    try {
      link = this.require();
      if (this.#blocked !== null) throw unavailable(`RabbitMQ refuses publishes for now (${this.#blocked}).`);
    } catch (error) {
      return Promise.reject(error);
    }
    const correlationId = `${link.generation}.${++this.#published}`;
    const confirmed = new Promise<void>((resolve, reject) => {
      try {
        link.publisher.publish('', queue, message.content, { ...message.options, mandatory: true, correlationId }, (error: unknown) => {
          const returned = this.#returned.delete(correlationId);
          if (error !== null && error !== undefined) reject(translateAmqp(error));
          else if (returned) reject(new UnroutableError(`No queue took a message published to ${queue}.`));
          else resolve();
        });
      } catch (error) {
        reject(translateAmqp(error));
      }
    });
    return timed(confirmed, this.#options.callTimeoutMs, `publish to ${queue}`);
  }

  /**
   * Runs `fn` on a channel of its own, closed after (the messages it got and did not settle go
   * back to their queue). `fn` times its own calls (`timed`); errors come back translated.
   */
  async withChannel<T>(what: string, fn: (channel: Channel) => Promise<T>): Promise<T> {
    const link = this.require();
    let channel: Channel | undefined;
    try {
      channel = await this.openChannel(link, what);
      return await fn(channel);
    } catch (error) {
      throw translateAmqp(error);
    } finally {
      if (channel !== undefined) await this.closeChannel(channel);
    }
  }

  /** A channel on `link`, its 'error' and 'close' listened to (a channel error closes only it). */
  async openChannel(link: Link, what: string, onClose?: (error: Error | null) => void): Promise<Channel> {
    const channel = await timed(link.model.createChannel(), this.#options.callTimeoutMs, `opening a channel (${what})`);
    let failure: Error | null = null;
    channel.on('error', (error: Error) => {
      failure = error;
    });
    channel.on('close', () => onClose?.(failure));
    return channel;
  }

  /** Closes a channel, within the call timeout; a channel already gone is fine. */
  async closeChannel(channel: Channel): Promise<void> {
    await timed(channel.close(), this.#options.callTimeoutMs, 'closing a channel').catch(() => undefined);
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    // An attempt in progress closes what it made when it sees the flag.
    await this.#connecting;
    const link = this.#link;
    this.#link = null;
    if (link !== null) await timed(link.model.close(), this.#options.callTimeoutMs, 'closing the connection').catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const o = this.#options;
    let model: ChannelModel | undefined;
    let gaveUp = false;
    try {
      const connecting = amqp.connect(withHeartbeat(o.url, o.heartbeatSeconds), { timeout: o.connectTimeoutMs, clientProperties: { connection_name: o.name } });
      // A connection made after we gave up on it is closed at once.
      connecting.then(
        (late) => {
          if (!gaveUp) return;
          late.on('error', () => undefined);
          late.close().catch(() => undefined);
        },
        () => undefined,
      );
      model = await timed(connecting, o.connectTimeoutMs + 1_000, 'connecting').catch((error: unknown) => {
        gaveUp = true;
        throw error;
      });
      const generation = ++this.#generation;
      const made = model;
      made.on('error', (error: Error) => this.#lost(generation, error));
      made.on('close', (error?: Error) => this.#lost(generation, error ?? new Error('The RabbitMQ connection closed.')));
      made.on('blocked', (reason: string) => {
        this.#blocked = reason;
      });
      made.on('unblocked', () => {
        this.#blocked = null;
      });
      const publisher = await timed(made.createConfirmChannel(), o.callTimeoutMs, 'opening the publishing channel');
      publisher.on('error', () => undefined);
      // The publishing channel closes only with its connection, or for a bug (a refused
      // publish): either way, connecting again sets everything up afresh.
      publisher.on('close', () => {
        if (this.#link?.generation === generation) made.close().catch(() => undefined);
      });
      publisher.on('return', (message: Message) => {
        const id = message.properties.correlationId;
        if (typeof id === 'string') this.#returned.add(id);
      });
      if (this.#closed) {
        await made.close().catch(() => undefined);
        return;
      }
      this.#blocked = null;
      this.#attempts = 0;
      const link: Link = { model: made, publisher, generation };
      this.#link = link;
      o.monitor?.restored();
      for (const resolve of this.#waiters) resolve();
      for (const listener of this.#listeners) listener.up(link);
    } catch (error) {
      if (model !== undefined) model.close().catch(() => undefined);
      if (!this.#closed) o.monitor?.lost(error);
      this.#scheduleReconnect();
    } finally {
      this.#connecting = null;
    }
  }

  /** The connection of `generation` dropped: listeners are told, and a new one is made after a wait. */
  #lost(generation: number, error: Error): void {
    const link = this.#link;
    if (this.#closed || link === null || link.generation !== generation) return;
    this.#link = null;
    this.#options.monitor?.lost(error);
    link.model.close().catch(() => undefined);
    for (const listener of this.#listeners) listener.down(link);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#attempts++;
    const { baseMs, maxMs } = this.#options.reconnect;
    // At least a tenth of the base, so a broker that refuses at once is not hammered.
    const wait = Math.max(Math.ceil(baseMs / 10), backoffDelay(this.#attempts, { baseMs, maxMs }, this.#options.random));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.start();
    }, wait);
    this.#timer.unref();
  }
}

/** The URL asking for heartbeats every `seconds`, unless it asks for its own. */
function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

export const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';
