/**
 * Which nodes make up the deployment and how each is doing, for the administrators' view: every
 * node publishes its status on the bus (`ctl:nodes`) every interval and keeps the latest status
 * of every node it hears, so any node answers for all of them. A node not heard from for three
 * intervals is left out (stopped, or cut off from the bus). Best effort, as the bus is: the
 * figures are at most one interval old. `parley worker` processes publish theirs too (role
 * `worker`: no connections, jobs run), and listen to nobody's: they answer no admin request.
 */
import type { Bus, Channel } from '../ports.js';
import type { AdminNode } from '../protocol/wire.js';

export const NODES_CHANNEL: Channel = 'ctl:nodes';

export type NodeRole = AdminNode['role'];

/**
 * One node's status, as it published it: the node of the admin API (AdminNode) with its times
 * as epoch ms (the node's clock), and without `ready`, which is `notReadyReason === null`. A
 * status of an older release has no `role` (it is a node's) and no `jobsPerSecond` (0).
 */
export type NodeStatus = Omit<AdminNode, 'startedAt' | 'at' | 'ready'> & { startedAt: number; at: number };

/** What a node reads of itself each interval: counters are totals since it started. */
export interface NodeSample {
  notReadyReason: string | null;
  connections: number;
  messagesTotal: number;
  deliveriesTotal: number;
  jobsTotal: number;
  eventLoopLagMs: number;
  breakers: Record<string, number>;
}

export interface NodeDirectoryOptions {
  id: string;
  /** Default `node`. A worker only publishes: it keeps nobody's status. */
  role?: NodeRole;
  host: string;
  version: string;
  intervalMs: number;
  sample(): Promise<NodeSample>;
  onError(error: unknown, context: string): void;
}

/** Most nodes remembered: statuses beyond it (a flood of forged ids) are not kept. */
const MAX_NODES = 1_000;
/** A status larger than this is not one a node sends. */
const MAX_STATUS_BYTES = 8_192;

export class NodeDirectory {
  readonly #bus: Bus;
  readonly #options: NodeDirectoryOptions;
  readonly #startedAt = Date.now();
  /** Node id → its latest status and when it arrived (this node's clock). */
  readonly #nodes = new Map<string, { status: NodeStatus; heardAt: number }>();
  #timer: NodeJS.Timeout | null = null;
  #stop: (() => Promise<void>) | null = null;
  #last: { at: number; messages: number; deliveries: number; jobs: number } | null = null;

  constructor(bus: Bus, options: NodeDirectoryOptions) {
    this.#bus = bus;
    this.#options = options;
  }

  async start(): Promise<void> {
    if (this.#role === 'node') this.#stop = await this.#bus.subscribe(NODES_CHANNEL, (payload) => this.#heard(payload));
    this.#timer = setInterval(() => void this.#publish(), this.#options.intervalMs);
    this.#timer.unref();
    await this.#publish();
  }

  get #role(): NodeRole {
    return this.#options.role ?? 'node';
  }

  /** Every node heard from within three intervals, this one first, then by id. */
  list(now = Date.now()): NodeStatus[] {
    const horizon = now - 3 * this.#options.intervalMs;
    const out: NodeStatus[] = [];
    for (const [id, entry] of this.#nodes) {
      if (entry.heardAt < horizon) this.#nodes.delete(id);
      else out.push(entry.status);
    }
    const self = this.#options.id;
    return out.sort((a, b) => (a.id === self ? -1 : b.id === self ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async #publish(): Promise<void> {
    try {
      const status = await this.#status();
      // Heard from itself at once, whether or not the bus carries it back.
      this.#nodes.set(status.id, { status, heardAt: Date.now() });
      await this.#bus.publish(NODES_CHANNEL, JSON.stringify(status));
    } catch (error) {
      this.#options.onError(error, 'node status');
    }
  }

  async #status(): Promise<NodeStatus> {
    const sample = await this.#options.sample();
    const now = Date.now();
    const last = this.#last;
    const seconds = last === null ? 0 : (now - last.at) / 1000;
    const rate = (total: number, before: number | undefined) => (seconds <= 0 || before === undefined ? 0 : Math.max(0, Math.round(((total - before) / seconds) * 10) / 10));
    this.#last = { at: now, messages: sample.messagesTotal, deliveries: sample.deliveriesTotal, jobs: sample.jobsTotal };
    const memory = process.memoryUsage();
    return {
      id: this.#options.id,
      role: this.#role,
      host: this.#options.host,
      pid: process.pid,
      version: this.#options.version,
      startedAt: this.#startedAt,
      at: now,
      notReadyReason: sample.notReadyReason,
      connections: sample.connections,
      messagesPerSecond: rate(sample.messagesTotal, last?.messages),
      deliveriesPerSecond: rate(sample.deliveriesTotal, last?.deliveries),
      jobsPerSecond: rate(sample.jobsTotal, last?.jobs),
      eventLoopLagMs: Math.round(sample.eventLoopLagMs * 10) / 10,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      breakers: sample.breakers,
    };
  }

  #heard(payload: string): void {
    if (payload.length > MAX_STATUS_BYTES) return;
    const status = parseStatus(payload);
    if (status === null || status.id === this.#options.id) return;
    if (!this.#nodes.has(status.id) && this.#nodes.size >= MAX_NODES) {
      // Nodes gone (restarts leave their ids behind) make room first.
      this.list();
      if (this.#nodes.size >= MAX_NODES) return;
    }
    this.#nodes.set(status.id, { status, heardAt: Date.now() });
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#stop?.();
    this.#stop = null;
  }
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_FIGURE;
/** The largest figure a status carries: a time (epoch ms, as far as a Date goes), a count, bytes. */
const MAX_FIGURE = 8.64e15;
/** Breaker kinds a status may name. */
const MAX_BREAKERS = 64;
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** A status as a node publishes it, or null for anything else on the channel. */
export function parseStatus(payload: string): NodeStatus | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const s = value as Record<string, unknown>;
  const numbers = ['pid', 'startedAt', 'at', 'connections', 'messagesPerSecond', 'deliveriesPerSecond', 'eventLoopLagMs', 'rssBytes', 'heapUsedBytes'] as const;
  if (!isText(s.id, 200) || !isText(s.host, 255) || !isText(s.version, 64)) return null;
  // Fields a newer release added: a status of the release before has none of them.
  const role = s.role === undefined ? 'node' : s.role;
  if (role !== 'node' && role !== 'worker') return null;
  const jobsPerSecond = s.jobsPerSecond === undefined ? 0 : s.jobsPerSecond;
  if (!isNumber(jobsPerSecond)) return null;
  if (!numbers.every((k) => isNumber(s[k])) || !Number.isInteger(s.pid) || !Number.isInteger(s.startedAt) || !Number.isInteger(s.at)) return null;
  if (s.notReadyReason !== null && !isText(s.notReadyReason, 500)) return null;
  if (typeof s.breakers !== 'object' || s.breakers === null || Array.isArray(s.breakers)) return null;
  const breakers = Object.entries(s.breakers as Record<string, unknown>);
  if (breakers.length > MAX_BREAKERS || !breakers.every(([k, v]) => k.length <= 64 && (v === 1 || v === 2))) return null;
  return {
    id: s.id,
    role,
    host: s.host,
    pid: s.pid as number,
    version: s.version,
    startedAt: s.startedAt as number,
    at: s.at as number,
    notReadyReason: s.notReadyReason as string | null,
    connections: s.connections as number,
    messagesPerSecond: s.messagesPerSecond as number,
    deliveriesPerSecond: s.deliveriesPerSecond as number,
    jobsPerSecond,
    eventLoopLagMs: s.eventLoopLagMs as number,
    rssBytes: s.rssBytes as number,
    heapUsedBytes: s.heapUsedBytes as number,
    breakers: s.breakers as Record<string, number>,
  };
}
