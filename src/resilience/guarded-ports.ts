/**
 * Port decorators that put a circuit breaker in front of an adapter, applied by the composition
 * root. What a caller sees does not change in kind: a call the open breaker refuses rejects with
 * `unavailable`, as the port already says it may during an outage, only at once instead of after
 * the dependency's timeout.
 *
 * (The Redis adapters take their breaker as a `guard` instead, around each command: presence
 * keeps this node's connections before its command, and the rate limiter counts in the process
 * when Redis cannot answer; a decorator in front of them would skip both.)
 */
import type { Bus, Channel, JobQueue, ObjectStore, Store } from '../ports.js';
import { decodeRoom } from '../protocol/bus-codec.js';
import type { Breaker } from './breaker.js';

/** Which methods of a port bypass the breaker, and which it only gates. */
interface GuardPlan {
  /** Called straight through (closing must always run). */
  unguarded: ReadonlySet<string>;
  /** Refused while open, but their outcome not counted (see `Breaker.gate`). */
  gated: ReadonlySet<string>;
}

/**
 * Every method of `port` (a promise-returning adapter) through `breaker.run`, but those `plan`
 * names. Properties that are not functions (`kind`) pass through; each wrapper is made once.
 */
function guardMethods<T extends object>(port: T, breaker: Breaker, plan: GuardPlan): T {
  const wrappers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(port, {
    get(target, property) {
      // Read on the adapter itself, and its unguarded methods bound to it: an adapter with
      // private fields (#closed) throws a TypeError when a getter or method runs with the proxy
      // as `this`. (Closing the S3 store through the proxy did, and stopped the shutdown's unwind.)
      const value = Reflect.get(target, property);
      // `then` must stay undefined: the decorated port is not a promise.
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'then') return value;
      if (plan.unguarded.has(property)) return (value as (...args: unknown[]) => unknown).bind(target);
      let wrapped = wrappers.get(property);
      if (wrapped === undefined) {
        const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        const via = plan.gated.has(property) ? breaker.gate.bind(breaker) : breaker.run.bind(breaker);
        wrapped = (...args: unknown[]) => via(async () => method(...args));
        wrappers.set(property, wrapped);
      }
      return wrapped;
    },
  });
}

/**
 * Every Store method through `breaker`. Not guarded: closing must always run, and migrating runs
 * before the store serves (retried instead). Gated, not counted: a search stops at its own
 * deadline with `unavailable` (SEARCH_TIMEOUT_MS, a bound on its cost), which says nothing about
 * the database's health.
 */
export function guardStore(store: Store, breaker: Breaker): Store {
  return guardMethods(store, breaker, { unguarded: new Set(['close', 'migrate']), gated: new Set(['search']) });
}

/**
 * Every ObjectStore method through `breaker` (one of the storage's own), but closing, which must
 * always run. Presigning is gated, not counted: it is a local computation whose success says
 * nothing about the storage, but while the breaker is open a URL to the storage would fail in
 * the client's hands, so it is refused with `unavailable` like the rest.
 *
 * `get` counts once its answer has begun (the object's headers): an outage while its body
 * streams fails that stream, not the call, and is not counted.
 */
export function guardObjectStore(store: ObjectStore, breaker: Breaker): ObjectStore {
  return guardMethods(store, breaker, { unguarded: new Set(['close']), gated: new Set(['presignPut', 'presignGet']) });
}

export interface GuardBusOptions {
  /** Rooms whose latest unpublished event is remembered (the least recent dropped past it). */
  maxRooms?: number;
  onError(error: unknown, context: string): void;
}

/** The seq of a room stream event, or null for anything else published on the bus. */
function eventSeq(channel: Channel, payload: string): number | null {
  if (!channel.startsWith('room:')) return null;
  const message = decodeRoom(payload);
  return message !== null && message.type === 'event' ? message.seq : null;
}

/**
 * Publishing through `breaker`; subscriptions, resets and closing go straight to the bus (they
 * have their own deadlines).
 *
 * A publish the open breaker refuses is lost like any failed publish: receivers repair from the
 * store. But a node's breaker may still be open a little after the bus is back, when the other
 * nodes have already resynced (their subscribers reconnected): an event refused then would
 * reach them only with the room's next event. So the latest stream event of each room that
 * could not be published is published again as soon as the breaker closes (unless a later event
 * of the room was published meanwhile); a receiver that has it drops it, one that lacks it (or
 * events before it) fills the gap from the store.
 */
export function guardBus(bus: Bus, breaker: Breaker, options: GuardBusOptions): Bus {
  const maxRooms = options.maxRooms ?? 10_000;
  /** Room channel → its unpublished event with the highest seq. Oldest first (a failure re-inserts). */
  const unpublished = new Map<Channel, { seq: number; payload: string }>();
  const failed = (channel: Channel, payload: string) => {
    const seq = eventSeq(channel, payload);
    if (seq === null) return;
    const kept = unpublished.get(channel);
    if (kept !== undefined && kept.seq >= seq) return;
    unpublished.delete(channel);
    unpublished.set(channel, { seq, payload });
    if (unpublished.size > maxRooms) unpublished.delete(unpublished.keys().next().value as Channel);
  };
  const published = (channel: Channel, payload: string) => {
    // A later event of the room reveals any gap before it to receivers.
    const kept = unpublished.get(channel);
    if (kept === undefined) return;
    const seq = eventSeq(channel, payload);
    if (seq !== null && seq >= kept.seq) unpublished.delete(channel);
  };
  const publish = (channel: Channel, payload: string): Promise<void> =>
    breaker.run(() => bus.publish(channel, payload)).then(
      () => {
        if (unpublished.size > 0) published(channel, payload);
      },
      (error: unknown) => {
        failed(channel, payload);
        throw error;
      },
    );
  breaker.onClose(() => {
    // After the call that closed it has settled (a probe publishing a later event of a room
    // makes that room's older one needless).
    setImmediate(() => {
      const again = [...unpublished];
      unpublished.clear();
      for (const [channel, { payload }] of again) publish(channel, payload).catch((error: unknown) => options.onError(error, 'bus publish again after the breaker closed'));
    });
  });
  return {
    publish,
    subscribe: (channel, handler) => bus.subscribe(channel, handler),
    onReset: (listener) => bus.onReset(listener),
    resubscribe: () => bus.resubscribe(),
    close: () => bus.close(),
  };
}

/**
 * The job backend's calls through `breaker`: enqueueing, schedules, counts and the dead-letter
 * calls. Working and closing pass by: a worker waits an outage out by itself, and closing must
 * always run. A refused enqueue rejects with `unavailable`, as the port says it may.
 */
export function guardJobQueue(jobs: JobQueue, breaker: Breaker): JobQueue {
  return {
    kind: jobs.kind,
    enqueue: (queue, payload, options) => breaker.run(() => jobs.enqueue(queue, payload, options)),
    repeat: (queue, name, everyMs, payload) => breaker.run(() => jobs.repeat(queue, name, everyMs, payload)),
    work: (queue, handler, options) => jobs.work(queue, handler, options),
    counts: (queue) => breaker.run(() => jobs.counts(queue)),
    deadLetters: (queue, limit) => breaker.run(() => jobs.deadLetters(queue, limit)),
    retryDead: (queue, id) => breaker.run(() => jobs.retryDead(queue, id)),
    purgeDead: (queue, id) => breaker.run(() => jobs.purgeDead(queue, id)),
    close: (graceMs) => jobs.close(graceMs),
  };
}
