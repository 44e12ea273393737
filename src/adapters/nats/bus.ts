/**
 * The bus over NATS core subjects: `<prefix>.room.<id>` and `<prefix>.user.<id>` (ids are
 * base64url, valid subject tokens). A subject is subscribed while this process has a local
 * handler for it. The client reconnects by itself and resubscribes; what was published while
 * it was away is lost, so each reconnection is reported through onReset.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { unavailable } from '../../errors.js';
import type { Bus, Channel } from '../../ports.js';
import { ChannelHandlers, ResetListeners } from '../bus-handlers.js';
import { drainWithin } from './drain.js';
import { type ConnectionMonitor, translateOutage } from '../outage.js';

export interface NatsBusOptions {
  url: string;
  prefix?: string;
  /** Errors that are not the connection's state (a server error, a slow subscription, a handler that threw). */
  onError(error: unknown, context: string): void;
  /** Told when the connection loses the server and when it is back; without it, onError is. */
  monitor?: ConnectionMonitor;
}

/** Longest a subscription waits for the server to confirm it (as the IPC bus's). */
const SUBSCRIBE_TIMEOUT_MS = 5_000;
/** Longest closing waits for what was published to be flushed. */
const DRAIN_TIMEOUT_MS = 2_000;

const subjectOf = (prefix: string, channel: Channel): string => `${prefix}.${channel.replace(':', '.')}`;

export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #onError: NatsBusOptions['onError'];
  readonly #monitor: ConnectionMonitor;
  readonly #handlers = new ChannelHandlers();
  readonly #subscriptions = new Map<Channel, Subscription>();
  readonly #resets = new ResetListeners();
  #closed = false;

  private constructor(nc: NatsConnection, options: NatsBusOptions) {
    this.#nc = nc;
    this.#prefix = options.prefix ?? 'parley';
    this.#onError = options.onError;
    this.#monitor = options.monitor ?? { lost: (error) => this.#onError(error, 'nats bus'), restored: () => undefined };
    void this.#watch();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: options.url,
      name: 'parley',
      timeout: 5_000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 10_000,
      maxPingOut: 2,
    });
    return new NatsBus(nc, options);
  }

  async #watch(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type === 'disconnect') {
          this.#monitor.lost(new Error(`NATS connection to ${status.server} lost; reconnecting`));
        } else if (status.type === 'staleConnection') {
          this.#monitor.lost(new Error('NATS connection stale (no answer to pings); reconnecting'));
        } else if (status.type === 'reconnect') {
          this.#monitor.restored();
          // The client re-sent the SUBs; a flush round trip makes sure the server has them. If
          // the connection drops again first, the next reconnect resets: keep watching.
          this.#nc.flush().then(
            () => this.#resets.fire(this.#onError),
            (error: unknown) => this.#monitor.lost(error),
          );
        } else if (status.type === 'error' || status.type === 'slowConsumer') {
          this.#onError(status.type === 'error' ? status.error : new Error(`NATS slow consumer, ${status.pending} pending`), 'nats bus');
        }
      }
    } catch (error) {
      if (!this.#closed) this.#onError(error, 'nats bus status');
    }
  }

  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    // Buffered by the client while reconnecting (bounded by its reconnect buffer); it throws
    // only when that buffer is full or the connection closed: NATS is unavailable then.
    try {
      this.#nc.publish(subjectOf(this.#prefix, channel), payload);
    } catch (error) {
      throw translateOutage(error, () => true, 'The bus is unavailable.');
    }
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.#handlers.add(channel, handler)) this.#subscriptions.set(channel, this.#open(channel));
    const stop = async () => {
      if (!this.#handlers.remove(channel, handler)) return;
      const sub = this.#subscriptions.get(channel);
      this.#subscriptions.delete(channel);
      if (!this.#closed) sub?.unsubscribe();
    };
    // The SUB is on the wire once the server has answered a PING sent after it. While NATS is
    // away that answer waits for the reconnection: bounded, so a subscribe fails instead.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#nc.flush(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(unavailable('The bus is unavailable; retry shortly.')), SUBSCRIBE_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      await stop();
      throw translateOutage(error, () => true, 'The bus is unavailable; retry shortly.');
    } finally {
      clearTimeout(timer);
    }
    return stop;
  }

  #open(channel: Channel): Subscription {
    return this.#nc.subscribe(subjectOf(this.#prefix, channel), {
      callback: (error, msg) => {
        if (error !== null) {
          this.#onError(error, 'nats subscription');
          return;
        }
        this.#handlers.deliver(channel, msg.string(), (e) => this.#onError(e, 'bus handler'));
      },
    });
  }

  onReset(listener: () => void): void {
    this.#resets.add(listener);
  }

  /** Forces a reconnection: the client resubscribes every subject, then onReset runs. */
  async resubscribe(): Promise<void> {
    const reset = this.#resets.next();
    await this.#nc.reconnect();
    await reset;
  }


  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    this.#subscriptions.clear();
    await drainWithin(this.#nc, DRAIN_TIMEOUT_MS);
  }
}
