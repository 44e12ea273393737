/**
 * What a process does with a bus message it dropped unread: its envelope names a version this
 * release does not read (a node two releases ahead, or one left writing a version its peers do
 * not know; see src/protocol/bus-envelope.ts). The instrumented bus has counted it
 * (`parley_bus_dropped_total{reason="version"}`); here it is treated as the possible loss it is,
 * the way a bus reset is, but for its channel only:
 *
 * - `room:<id>`: the room is resynced from the store at once. The ordering buffer would see a
 *   lost event as a gap at the room's next event, but a lost newest event would wait for one.
 * - `ctl:members`: the membership cache is cleared (a join or leave may be in the lost message).
 * - other channels carry what a reset loses too (a user's frames, cache keys, purges, probes):
 *   counted and logged only.
 *
 * Logged at most once per interval, with how many were dropped since the last line.
 */
import { MEMBERSHIP_CHANNEL } from '../domain/publisher.js';
import type { Channel } from '../ports.js';

export interface BusDropsOptions {
  /** Least time between two log lines, ms. */
  logIntervalMs: number;
  log(fields: { channel: Channel; version: number; dropped: number }): void;
  resyncRoom(roomId: string): void;
  membershipLost(): void;
  now?(): number;
}

export const BUS_DROP_LOG_INTERVAL_MS = 60_000;

export class BusDrops {
  readonly #options: BusDropsOptions;
  #loggedAt: number | null = null;
  #unlogged = 0;

  constructor(options: BusDropsOptions) {
    this.#options = options;
  }

  dropped(channel: Channel, version: number): void {
    this.#unlogged++;
    const now = this.#options.now?.() ?? Date.now();
    if (this.#loggedAt === null || now - this.#loggedAt >= this.#options.logIntervalMs) {
      this.#loggedAt = now;
      const dropped = this.#unlogged;
      this.#unlogged = 0;
      this.#options.log({ channel, version, dropped });
    }
    if (channel.startsWith('room:')) this.#options.resyncRoom(channel.slice('room:'.length));
    else if (channel === MEMBERSHIP_CHANNEL) this.#options.membershipLost();
  }
}
