/**
 * Outgoing webhooks: a room owner registers endpoints for the room's events; each event is
 * delivered to each endpoint as a job, signed (signing.ts), retried with backoff, behind a
 * circuit breaker per endpoint, logged (the latest attempts, readable over REST), and an
 * endpoint that has failed for a whole WEBHOOK_DISABLE_AFTER_HOURS is disabled.
 *
 * Nothing of it is on the send path. After a commit the writer tells `committed`, which (for a
 * room known to have endpoints: a per-process cache) enqueues one `webhook-fanout` job per
 * endpoint, without waiting. The fan-out job reads the room's events after the endpoint's
 * cursor from the store and enqueues one `webhook-deliver` job per event (keyed by endpoint
 * and seq, so a repeated fan-out enqueues nothing twice), then moves the cursor. A sweep every
 * minute fans out for every endpoint still behind its room, so an event whose fan-out was never
 * enqueued (the process died after the commit) is delivered all the same: at least once.
 */
import { EVENT_KINDS } from '../protocol/event-kinds.js';
import { conflict, forbidden, notFound, validationFailed } from '../errors.js';
import type { Access } from '../domain/access.js';
import { isDisabled } from '../domain/actor.js';
import { newId } from '../domain/ids.js';
import type { EventKind, WebhookRecord } from '../domain/types.js';
import { eventView } from '../domain/views.js';
import { failureMessage, PermanentJobError } from '../jobs/errors.js';
import type { Job, JobQueue, Store } from '../ports.js';
import type { ServerKey } from '../secrets.js';
import { postWebhook, type PostResult } from './deliver.js';
import { newWebhookSecret, SIGNATURE_HEADER, signatureHeader } from './signing.js';
import { checkWebhookUrl } from './url.js';

export const FANOUT_QUEUE = 'webhook-fanout';
export const DELIVER_QUEUE = 'webhook-deliver';
export const SWEEP_QUEUE = 'webhook-sweep';

const KINDS: readonly EventKind[] = EVENT_KINDS;
/** Events read per fan-out page; a fan-out does a few pages, then hands on to another job. */
const FANOUT_PAGE = 200;
const FANOUT_PAGES_PER_RUN = 5;
const DELIVERIES_KEPT = 100;
/**
 * A fan-out only reads the store and enqueues: it fails in an outage of either, and is retried
 * through a long one (its key, held while it lives, would otherwise keep a sweep from redoing it).
 */
const FANOUT_RETRIES = { attempts: 30, backoff: { baseMs: 1_000, maxMs: 300_000 } };
const PRUNE_EVERY = 25;
const FANOUT_WINDOW_MS = 50;
const SWEEP_BATCH = 500;
/** How long a room's "has endpoints" answer is trusted by the process that did not change it, ms. */
const ROOM_CACHE_MS = 10_000;
const ROOM_CACHE_MAX = 10_000;

/** What runs a call to an endpoint behind its circuit breaker. */
export interface EndpointBreakers {
  run<T>(webhookId: string, call: () => Promise<T>): Promise<T>;
}

export interface WebhooksOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  perRoomMax: number;
  disableAfterMs: number;
  secretGraceMs: number;
  attempts: number;
  backoff: { baseMs: number; maxMs: number };
  /** Deliveries one endpoint may have in flight in one process; more wait their turn (retried). */
  perEndpointConcurrency: number;
  breakers: EndpointBreakers;
  onError(error: unknown, context: string): void;
  now?: () => number;
}

export interface WebhookView {
  id: string;
  roomId: string;
  url: string;
  events: EventKind[] | null;
  state: 'active' | 'disabled';
  disabledReason: string | null;
  failingSince: string | null;
  createdAt: string;
}

export interface DeliveryView {
  seq: number;
  attempt: number;
  ok: boolean;
  status: number | null;
  error: string | null;
  durationMs: number;
  at: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An attempt the endpoint's breaker counts against it: no answer, a 5xx, a 429. */
class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
  constructor(readonly result: PostResult) {
    super(result.status === null ? `webhook endpoint failed: ${result.error ?? 'no answer'}` : `webhook endpoint answered ${result.status}`);
  }
}

export const isDeliveryFailure = (error: unknown): boolean => error instanceof DeliveryFailed;

export class Webhooks {
  readonly #store: Store;
  readonly #access: Access;
  readonly #jobs: JobQueue;
  readonly #key: ServerKey;
  readonly #options: WebhooksOptions;
  readonly #now: () => number;
  /** roomId → its active endpoints, and when that was read. */
  readonly #rooms = new Map<string, { ids: string[]; at: number }>();
  /** Rooms with events committed this turn of the loop → their highest seq. */
  readonly #pending = new Map<string, number>();
  /** Endpoint → its deliveries in flight in this process. */
  readonly #inFlight = new Map<string, number>();

  constructor(store: Store, access: Access, jobs: JobQueue, key: ServerKey, options: WebhooksOptions) {
    this.#store = store;
    this.#access = access;
    this.#jobs = jobs;
    this.#key = key;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  // Management, by the room owner

  async create(userId: string, roomId: string, input: { url: string; events?: EventKind[] | undefined }): Promise<{ webhook: WebhookView; secret: string }> {
    await this.#requireOwner(roomId, userId);
    const url = checkWebhookUrl(input.url, this.#options.allowPrivate);
    const events = input.events === undefined ? null : [...new Set(input.events)];
    if (events !== null && (events.length === 0 || events.some((k) => !KINDS.includes(k)))) throw validationFailed(`events are some of ${KINDS.join(', ')}.`);
    const existing = await this.#store.listWebhooks(roomId);
    if (existing.length >= this.#options.perRoomMax) throw conflict(`A room has at most ${this.#options.perRoomMax} webhooks.`, { reason: 'too_many_webhooks' });
    const room = await this.#access.room(roomId);
    const secret = newWebhookSecret();
    const record: WebhookRecord = {
      id: newId(),
      roomId,
      createdBy: userId,
      url,
      secretSealed: this.#key.encrypt(secret),
      previousSecretSealed: null,
      previousSecretUntil: null,
      events,
      state: 'active',
      disabledReason: null,
      failingSince: null,
      // From now on: the history before it is not replayed to a new endpoint.
      cursorSeq: room.lastSeq,
      createdAt: this.#now(),
    };
    await this.#store.createWebhook(record);
    this.#rooms.delete(roomId);
    return { webhook: this.view(record), secret };
  }

  async list(userId: string, roomId: string): Promise<WebhookView[]> {
    await this.#requireOwner(roomId, userId);
    return (await this.#store.listWebhooks(roomId)).map((w) => this.view(w));
  }

  async remove(userId: string, roomId: string, id: string): Promise<void> {
    await this.#mine(userId, roomId, id);
    await this.#store.deleteWebhook(id);
    this.#rooms.delete(roomId);
  }

  /** A new secret; the previous one still signs (a second signature) for the grace. */
  async rotateSecret(userId: string, roomId: string, id: string): Promise<{ webhook: WebhookView; secret: string }> {
    const hook = await this.#mine(userId, roomId, id);
    const secret = newWebhookSecret();
    const changes = { secretSealed: this.#key.encrypt(secret), previousSecretSealed: hook.secretSealed, previousSecretUntil: this.#now() + this.#options.secretGraceMs };
    await this.#store.updateWebhook(id, changes);
    return { webhook: this.view({ ...hook, ...changes }), secret };
  }

  /** Enables a disabled endpoint again: deliveries resume from now (what it missed is not sent). */
  async enable(userId: string, roomId: string, id: string): Promise<WebhookView> {
    const hook = await this.#mine(userId, roomId, id);
    if (hook.state === 'active') return this.view(hook);
    const room = await this.#access.room(roomId);
    await this.#store.advanceWebhookCursor(id, room.lastSeq);
    await this.#store.updateWebhook(id, { state: 'active', disabledReason: null, failingSince: null });
    this.#rooms.delete(roomId);
    return this.view({ ...hook, state: 'active', disabledReason: null, failingSince: null, cursorSeq: Math.max(hook.cursorSeq, room.lastSeq) });
  }

  async deliveries(userId: string, roomId: string, id: string, limit: number): Promise<DeliveryView[]> {
    await this.#mine(userId, roomId, id);
    return (await this.#store.listWebhookDeliveries(id, limit)).map((d) => ({ seq: d.seq, attempt: d.attempt, ok: d.ok, status: d.status, error: d.error, durationMs: d.durationMs, at: iso(d.at) as string }));
  }

  view(w: WebhookRecord): WebhookView {
    return { id: w.id, roomId: w.roomId, url: w.url, events: w.events, state: w.state, disabledReason: w.disabledReason, failingSince: iso(w.failingSince), createdAt: iso(w.createdAt) as string };
  }

  // The send path: told of every committed event, never waited for

  /** An event was committed: the room's endpoints get a fan-out, once per room per window. */
  committed(roomId: string, seq: number): void {
    const pending = this.#pending.get(roomId);
    this.#pending.set(roomId, Math.max(pending ?? 0, seq));
    // One fan-out per endpoint per window, however many commits: a busy room costs a few jobs a
    // second, not one per commit.
    if (this.#pending.size === 1 && pending === undefined) setTimeout(() => this.#flush(), FANOUT_WINDOW_MS).unref();
  }

  #flush(): void {
    const rooms = [...this.#pending];
    this.#pending.clear();
    for (const [roomId, seq] of rooms) {
      this.#endpoints(roomId).then(
        (ids) => {
          for (const id of ids) this.#enqueueFanout(id, seq);
        },
        (error: unknown) => this.#options.onError(error, 'looking up webhooks'),
      );
    }
  }

  /** The room's active endpoints, from the cache while it is fresh. */
  async #endpoints(roomId: string): Promise<string[]> {
    const known = this.#rooms.get(roomId);
    if (known !== undefined && this.#now() - known.at < ROOM_CACHE_MS) return known.ids;
    const ids = await this.#store.activeWebhookIds(roomId);
    if (this.#rooms.size >= ROOM_CACHE_MAX) this.#rooms.clear();
    this.#rooms.set(roomId, { ids, at: this.#now() });
    return ids;
  }

  // Jobs

  /** Hands the events after the endpoint's cursor to delivery jobs, then moves the cursor. */
  async fanout(job: Job): Promise<void> {
    const id = String(job.payload.webhookId);
    let hook = await this.#store.findWebhook(id);
    for (let page = 0; page < FANOUT_PAGES_PER_RUN; page++) {
      if (hook === undefined || hook.state !== 'active') return;
      const events = await this.#store.readEvents(hook.roomId, hook.cursorSeq, FANOUT_PAGE);
      if (events.length === 0) return;
      for (const event of events) {
        if (hook.events !== null && !hook.events.includes(event.kind)) continue;
        await this.#jobs.enqueue(DELIVER_QUEUE, { webhookId: id, seq: event.seq }, { key: `${id}:${event.seq}`, attempts: this.#options.attempts, backoff: this.#options.backoff });
      }
      const last = events.at(-1)?.seq ?? hook.cursorSeq;
      await this.#store.advanceWebhookCursor(id, last);
      if (events.length < FANOUT_PAGE) return;
      hook = { ...hook, cursorSeq: last };
    }
    // More remain: another run goes on, so one busy room does not hold this worker. Awaited: if it
    // cannot be enqueued, this run fails and is retried (the cursor has moved: nothing twice).
    if (hook !== undefined) await this.#jobs.enqueue(FANOUT_QUEUE, { webhookId: id }, { key: `fanout:${id}:from:${hook.cursorSeq}`, ...FANOUT_RETRIES });
  }

  /** Delivers one event to one endpoint. */
  async deliver(job: Job): Promise<void> {
    const id = String(job.payload.webhookId);
    const seq = Number(job.payload.seq);
    const hook = await this.#store.findWebhook(id);
    // Deleted or disabled since: nothing to deliver.
    if (hook === undefined || hook.state !== 'active') return;
    // Whoever registered it must still be in the room: one who left takes the room's events
    // with them no further (re-enabled, it delivers again only once they are back).
    if ((await this.#store.membership(hook.roomId, hook.createdBy)).role === null) {
      await this.#disable(hook, 'The member who registered it left the room.');
      return;
    }
    // Nor does one a server administrator disabled (re-enabled, it delivers again once they are enabled).
    const creator = await this.#store.findUserById(hook.createdBy);
    if (creator === undefined || isDisabled(creator)) {
      await this.#disable(hook, 'The member who registered it was disabled by a server administrator.');
      return;
    }
    const [event] = await this.#store.readEvents(hook.roomId, seq - 1, 1);
    if (event === undefined || event.seq !== seq) return;
    const now = this.#now();
    const body = JSON.stringify({ id: `${id}:${seq}`, webhookId: id, type: event.kind, roomId: hook.roomId, seq, createdAt: iso(event.createdAt), event: eventView(event) });
    const secrets = [this.#key.decrypt(hook.secretSealed)];
    if (hook.previousSecretSealed !== null && (hook.previousSecretUntil ?? 0) > now) secrets.push(this.#key.decrypt(hook.previousSecretSealed));
    const headers = {
      [SIGNATURE_HEADER]: signatureHeader(secrets, Math.floor(now / 1000), body),
      'parley-webhook-id': id,
      'parley-delivery': `${id}:${seq}`,
      'parley-attempt': String(job.attempt),
    };
    // A slow or dead endpoint holds at most its share of this process's delivery slots, so the
    // other endpoints' deliveries go on; the rest of its deliveries wait for a retry.
    const busy = this.#inFlight.get(id) ?? 0;
    if (busy >= this.#options.perEndpointConcurrency) throw new Error(`the endpoint has ${busy} deliveries in flight here; this one waits`);
    this.#inFlight.set(id, busy + 1);
    let result: PostResult;
    try {
      result = await this.#options.breakers.run(id, async () => {
        const answer = await postWebhook(hook.url, body, headers, { timeoutMs: this.#options.timeoutMs, allowPrivate: this.#options.allowPrivate, signal: job.signal });
        // Counted as a failure by the breaker: no answer, or a server error.
        if (answer.status === null || answer.status >= 500 || answer.status === 429) throw new DeliveryFailed(answer);
        return answer;
      });
    } catch (error) {
      result = error instanceof DeliveryFailed ? error.result : { status: null, error: failureMessage(error, 500), durationMs: 0 };
    } finally {
      const left = (this.#inFlight.get(id) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(id, left);
      else this.#inFlight.delete(id);
    }
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    await this.#store.recordWebhookDelivery({ webhookId: id, seq, attempt: job.attempt, ok, status: result.status, error: ok ? null : (result.error ?? `HTTP ${result.status}`), durationMs: result.durationMs, at: now });
    // The log keeps the latest attempts: trimmed now and then, not at every write.
    if (seq % PRUNE_EVERY === 0) await this.#store.pruneWebhookDeliveries(id, DELIVERIES_KEPT);
    if (ok) {
      if (hook.failingSince !== null) await this.#store.updateWebhook(id, { failingSince: null });
      return;
    }
    if (result.status === 410) {
      await this.#disable(hook, 'The endpoint answered 410 Gone.');
      throw new PermanentJobError('the endpoint is gone (410)');
    }
    const since = await this.#store.markWebhookFailing(id, now);
    if (now - since >= this.#options.disableAfterMs) {
      await this.#disable(hook, `Every delivery failed for ${Math.round((now - since) / 3_600_000)} hours.`);
      throw new PermanentJobError('the endpoint has failed for too long; disabled');
    }
    throw new Error(result.status === null ? `delivery failed: ${result.error ?? 'no answer'}` : `delivery answered ${result.status}`);
  }

  /** The repeatable job: fans out for every endpoint behind its room. */
  async sweep(): Promise<void> {
    const behind = await this.#store.webhooksBehind(SWEEP_BATCH);
    // Keyed by the cursor they start from: a new key whenever a fan-out made progress, so neither a
    // fan-out of the writer's nor a dead one keeps the sweep from moving an endpoint on.
    for (const { id, cursorSeq } of behind) await this.#jobs.enqueue(FANOUT_QUEUE, { webhookId: id }, { key: `fanout:${id}:from:${cursorSeq}`, ...FANOUT_RETRIES });
  }

  // Helpers

  async #requireOwner(roomId: string, userId: string): Promise<void> {
    const role = await this.#access.requireMember(roomId, userId);
    if (role !== 'owner') throw forbidden('Only the room owner manages its webhooks.');
  }

  async #mine(userId: string, roomId: string, id: string): Promise<WebhookRecord> {
    await this.#requireOwner(roomId, userId);
    const hook = await this.#store.findWebhook(id);
    if (hook === undefined || hook.roomId !== roomId) throw notFound('No such webhook.');
    return hook;
  }

  async #disable(hook: WebhookRecord, reason: string): Promise<void> {
    await this.#store.updateWebhook(hook.id, { state: 'disabled', disabledReason: reason });
    this.#rooms.delete(hook.roomId);
  }

  #enqueueFanout(webhookId: string, seq: number): void {
    this.#jobs.enqueue(FANOUT_QUEUE, { webhookId }, { key: `fanout:${webhookId}:${seq}`, ...FANOUT_RETRIES }).catch((error: unknown) => this.#options.onError(error, 'enqueueing a webhook fan-out'));
  }
}
