/**
 * Decorators that measure a port without changing what it does: every call goes through to the
 * adapter, its result or error comes back unchanged. They let the composition root add metrics
 * to any adapter, so no adapter knows about Prometheus.
 */
import { performance } from 'node:perf_hooks';
import type { Cluster, Command, Redis } from 'ioredis';
import type { Bus, Channel, RateLimiter, Store } from '../ports.js';
import { BUS_ENVELOPE_CURRENT, openEnvelope, wrapEnvelope } from '../protocol/bus-envelope.js';
import type { Metrics } from './metrics.js';
import { activeTraceparent, context, contextFrom, inSpan, SpanKind, SpanStatusCode, trace, tracer, tracingEnabled } from './tracing.js';

/** Times every Store method by name (a fixed set, so a bounded label); with tracing on, a span each. */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const wrappers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
      let wrapped = wrappers.get(property);
      if (wrapped === undefined) {
        const operation = property;
        const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        const timed = async (args: unknown[]) => {
          const started = performance.now();
          let outcome: 'ok' | 'error' = 'error';
          try {
            const result = await method(...args);
            outcome = 'ok';
            return result;
          } finally {
            metrics.storeQueryDuration.observe({ operation, outcome }, (performance.now() - started) / 1000);
          }
        };
        wrapped = (...args: unknown[]) => (tracingEnabled() ? inSpan(`store ${operation}`, { 'db.operation.name': operation }, () => timed(args), SpanKind.CLIENT) : timed(args));
        wrappers.set(property, wrapped);
      }
      return wrapped;
    },
  });
}

export interface InstrumentBusOptions {
  /** The envelope version published (src/protocol/bus-envelope.ts): the current one unless a rolling upgrade says otherwise. */
  envelopeVersion?: number;
  /**
   * A message on `channel` was dropped unread: its envelope names a version this node does not
   * read (`version`). Counted here; the caller treats it as a possible loss on that channel.
   */
  onDropped?(channel: Channel, version: number): void;
}

/**
 * Wraps what is published in the envelope (src/protocol/bus-envelope.ts) and opens what is
 * received, so handlers see payloads only; drops a message of an envelope version this node does
 * not read (counted, and told to `onDropped`). Counts what is published on and received from the
 * bus and the resets it reports; times publish to receipt; with tracing on, a `bus publish` span
 * on the sender and a `bus deliver` span on each receiver, joined through the envelope's traceparent.
 */
export function instrumentBus(bus: Bus, metrics: Metrics, nodeId = '', options: InstrumentBusOptions = {}): Bus {
  bus.onReset(() => metrics.busResets.inc());
  const version = options.envelopeVersion ?? BUS_ENVELOPE_CURRENT;
  const droppedForVersion = metrics.busDropped.labels('version');
  const publish = (channel: Channel, payload: string, traceparent: string | null) =>
    bus.publish(channel, wrapEnvelope(payload, { publishedAtMs: Date.now(), traceparent, version })).catch((error: unknown) => {
      metrics.busPublishFailures.inc();
      throw error;
    });
  return {
    publish: (channel, payload) => {
      metrics.busPublished.inc();
      if (!tracingEnabled()) return publish(channel, payload, null);
      return inSpan('bus publish', { 'messaging.system': 'parley', 'messaging.destination.name': channel, 'parley.node': nodeId }, () => publish(channel, payload, activeTraceparent()), SpanKind.PRODUCER);
    },
    subscribe: (channel, handler) =>
      bus.subscribe(channel, (message) => {
        metrics.busReceived.inc();
        const opened = openEnvelope(message);
        if (!opened.ok) {
          droppedForVersion.inc();
          options.onDropped?.(channel, opened.version);
          return;
        }
        const { payload, publishedAtMs, traceparent } = opened;
        if (publishedAtMs !== null) metrics.publishDeliverDuration.observe(Math.max(0, Date.now() - publishedAtMs) / 1000);
        if (traceparent === null || !tracingEnabled()) {
          handler(payload);
          return;
        }
        const parent = contextFrom(traceparent);
        const span = tracer().startSpan('bus deliver', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'parley', 'messaging.destination.name': channel, 'parley.node': nodeId } }, parent);
        try {
          context.with(trace.setSpan(parent, span), () => handler(payload));
        } finally {
          span.end();
        }
      }),
    onReset: (listener) => bus.onReset(listener),
    resubscribe: () => bus.resubscribe(),
    close: () => bus.close(),
  };
}

/** Counts the refusals of one rate limit. */
export function instrumentRateLimiter(limiter: RateLimiter, limit: 'send' | 'auth' | 'profile', metrics: Metrics): RateLimiter {
  const refused = metrics.rateLimited.labels(limit);
  return {
    consume: async (key) => {
      const result = await limiter.consume(key);
      if (!result.allowed) refused.inc();
      return result;
    },
  };
}

/**
 * Times every command a Redis client sends, by command name (the commands Parley uses: a
 * bounded set). A Cluster sends a command again to another node after a redirection (MOVED,
 * ASK, a failover): timed once, from the first send to its answer, and every argument passed on.
 */
export function instrumentRedis(redis: Redis | Cluster, metrics: Metrics): void {
  const client = redis as unknown as { sendCommand: (command: Command, ...rest: unknown[]) => unknown };
  const send = client.sendCommand.bind(client);
  const timed = new WeakSet<Command>();
  client.sendCommand = (command, ...rest) => {
    if (timed.has(command)) return send(command, ...rest);
    timed.add(command);
    const started = performance.now();
    const name = command.name.toLowerCase();
    const span = tracingEnabled() ? tracer().startSpan(`redis ${name}`, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'redis', 'db.operation.name': name } }) : null;
    command.promise.then(
      () => {
        metrics.redisCommandDuration.observe({ command: name, outcome: 'ok' }, (performance.now() - started) / 1000);
        span?.end();
      },
      () => {
        metrics.redisCommandDuration.observe({ command: name, outcome: 'error' }, (performance.now() - started) / 1000);
        span?.setStatus({ code: SpanStatusCode.ERROR });
        span?.end();
      },
    );
    return send(command, ...rest);
  };
}
