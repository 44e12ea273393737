/**
 * The bus between the workers of one machine, through the cluster primary: zero setup, for
 * `parley start --workers N` without Redis or NATS. A worker delivers its own publications to
 * its own handlers directly and sends them to the primary, which forwards each to the other
 * workers subscribed to the channel (IpcBusRouter). IPC pipes are ordered, so per-channel FIFO
 * holds; nothing is dropped while the primary lives, and workers die with it.
 */
import { unavailable } from '../../errors.js';
import type { Bus, Channel } from '../../ports.js';
import { ChannelHandlers, deliverEach, ResetListeners } from '../bus-handlers.js';

export type IpcBusMessage =
  | { parley: 'bus'; op: 'sub'; id: number; channel: Channel }
  | { parley: 'bus'; op: 'unsub'; channel: Channel }
  | { parley: 'bus'; op: 'pub'; channel: Channel; payload: string }
  | { parley: 'bus'; op: 'ack'; id: number }
  | { parley: 'bus'; op: 'msg'; channel: Channel; payload: string };

/** One end of an IPC pipe: a worker's `process`, or the primary's `Worker`. */
export interface IpcEndpoint {
  send(message: IpcBusMessage, callback?: (error: Error | null) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export const isBusMessage = (m: unknown): m is IpcBusMessage => typeof m === 'object' && m !== null && (m as { parley?: unknown }).parley === 'bus';

const SUBSCRIBE_TIMEOUT_MS = 5_000;

export class IpcBus implements Bus {
  readonly #primary: IpcEndpoint;
  readonly #handlers = new ChannelHandlers();
  readonly #acks = new Map<number, () => void>();
  readonly #resets = new ResetListeners();
  readonly #onError: (error: unknown, context: string) => void;
  #nextId = 1;
  #closed = false;

  constructor(primary: IpcEndpoint, onError: (error: unknown, context: string) => void) {
    this.#primary = primary;
    this.#onError = onError;
    // A send to a primary that is gone (this worker is exiting with it) emits 'error' on the
    // endpoint; unheard, that would end the process with a stack trace instead of its shutdown.
    primary.on('error', (error) => this.#onError(error, 'ipc bus'));
    primary.on('message', (message) => {
      if (!isBusMessage(message) || this.#closed) return;
      if (message.op === 'msg') this.#handlers.deliver(message.channel, message.payload, (e) => this.#onError(e, 'bus handler'));
      else if (message.op === 'ack') this.#acks.get(message.id)?.();
    });
  }

  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    const local = this.#handlers.snapshot(channel);
    if (local.length > 0) queueMicrotask(() => deliverEach(local, payload, (error) => this.#onError(error, 'bus handler')));
    this.#primary.send({ parley: 'bus', op: 'pub', channel, payload });
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    this.#handlers.add(channel, handler);
    // Every subscribe waits for the primary's ack, so the caller knows delivery is established.
    try {
      await this.#request(channel);
    } catch (error) {
      if (this.#handlers.remove(channel, handler)) this.#primary.send({ parley: 'bus', op: 'unsub', channel });
      throw error;
    }
    return async () => {
      if (this.#handlers.remove(channel, handler) && !this.#closed) this.#primary.send({ parley: 'bus', op: 'unsub', channel });
    };
  }

  #request(channel: Channel): Promise<void> {
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(id);
        reject(unavailable(`The cluster primary did not acknowledge a subscription within ${SUBSCRIBE_TIMEOUT_MS} ms; retry.`));
      }, SUBSCRIBE_TIMEOUT_MS);
      this.#acks.set(id, () => {
        clearTimeout(timer);
        this.#acks.delete(id);
        resolve();
      });
      this.#primary.send({ parley: 'bus', op: 'sub', id, channel });
    });
  }

  onReset(listener: () => void): void {
    this.#resets.add(listener);
  }

  async resubscribe(): Promise<void> {
    await Promise.all(this.#handlers.channels().map((channel) => this.#request(channel)));
    this.#resets.fire(this.#onError);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#handlers.channels()) this.#primary.send({ parley: 'bus', op: 'unsub', channel });
    this.#handlers.clear();
  }
}

/**
 * The primary's side: which worker listens to which channel, counted per worker (a worker
 * subscribes a channel once per local handler set, but may re-send after resubscribe).
 */
export class IpcBusRouter {
  readonly #subscribers = new Map<Channel, Set<IpcEndpoint>>();
  readonly #channelsOf = new Map<IpcEndpoint, Set<Channel>>();
  readonly #onSendError: (error: Error) => void;

  /**
   * `onSendError`: a message could not reach a worker, as when it was killed and its exit is
   * not yet known here (EPIPE). The bus is at-most-once; the worker is detached on its exit.
   */
  constructor(onSendError: (error: Error) => void = () => undefined) {
    this.#onSendError = onSendError;
  }

  attach(worker: IpcEndpoint): void {
    this.#channelsOf.set(worker, new Set());
    worker.on('message', (message) => {
      if (isBusMessage(message)) this.#handle(worker, message);
    });
    // Without a listener, a failed send to a dead worker is an uncaught 'error' that would
    // take the primary, and every other worker's bus, down with it.
    worker.on('error', this.#onSendError);
  }

  #send(worker: IpcEndpoint, message: IpcBusMessage): void {
    worker.send(message, (error) => {
      if (error !== null) this.#onSendError(error);
    });
  }

  /** Forgets a worker that exited. */
  detach(worker: IpcEndpoint): void {
    for (const channel of this.#channelsOf.get(worker) ?? []) this.#unsubscribe(worker, channel);
    this.#channelsOf.delete(worker);
  }

  #handle(worker: IpcEndpoint, message: IpcBusMessage): void {
    switch (message.op) {
      case 'sub': {
        let set = this.#subscribers.get(message.channel);
        if (set === undefined) {
          set = new Set();
          this.#subscribers.set(message.channel, set);
        }
        set.add(worker);
        this.#channelsOf.get(worker)?.add(message.channel);
        this.#send(worker, { parley: 'bus', op: 'ack', id: message.id });
        break;
      }
      case 'unsub':
        this.#unsubscribe(worker, message.channel);
        break;
      case 'pub': {
        const set = this.#subscribers.get(message.channel);
        if (set === undefined) return;
        const forward: IpcBusMessage = { parley: 'bus', op: 'msg', channel: message.channel, payload: message.payload };
        for (const other of set) if (other !== worker) this.#send(other, forward);
        break;
      }
      default:
        break;
    }
  }

  #unsubscribe(worker: IpcEndpoint, channel: Channel): void {
    this.#channelsOf.get(worker)?.delete(channel);
    const set = this.#subscribers.get(channel);
    if (set === undefined) return;
    set.delete(worker);
    if (set.size === 0) this.#subscribers.delete(channel);
  }

  get channelCount(): number {
    return this.#subscribers.size;
  }
}
