/**
 * A decorator that gives a Store adapter the domain's vocabulary for outages: every call goes
 * through to the adapter; an error its technology uses for "down, restarting, overloaded"
 * comes back as `unavailable` (so a request during a database restart is answered 503 with
 * Retry-After, never 500), any other error comes back unchanged. Each outage failure and the
 * first success after it are reported to the monitor, which logs the outage once, not once per
 * failed call.
 */
import { AppError } from '../errors.js';
import { type ConnectionMonitor, translateOutage } from './outage.js';

export interface OutageStoreOptions {
  isOutage(error: unknown): boolean;
  /** The message of the `unavailable` error clients receive. */
  message: string;
  monitor?: ConnectionMonitor | undefined;
}

export function translateStoreOutages<S extends object>(store: S, options: OutageStoreOptions): S {
  const { isOutage, message, monitor } = options;
  const wrappers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const failed = (error: unknown, startedAt: number): never => {
    const translated = translateOutage(error, isOutage, message);
    if (translated instanceof AppError && translated.code === 'unavailable') monitor?.lost(error, startedAt);
    throw translated;
  };
  const succeeded = <T>(value: T): T => {
    monitor?.restored();
    return value;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      // `then` must stay undefined: the decorated store is not a promise.
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'then') return value;
      let wrapped = wrappers.get(property);
      if (wrapped === undefined) {
        const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        wrapped = (...args: unknown[]) => {
          const startedAt = Date.now();
          let pending: Promise<unknown>;
          try {
            pending = Promise.resolve(method(...args));
          } catch (error) {
            // A synchronous throw (a closed driver) is an answer like any other.
            pending = Promise.reject(error);
          }
          return pending.then(succeeded, (error: unknown) => failed(error, startedAt));
        };
        wrappers.set(property, wrapped);
      }
      return wrapped;
    },
  });
}
