/** The SQL of outgoing webhooks and their delivery log, for SqlStore (both dialects). */
import type { Kysely } from 'kysely';
import type { EventKind, WebhookDeliveryRecord, WebhookRecord } from '../../domain/types.js';
import type { WebhookChanges } from '../../ports.js';
import type { Database, WebhooksTable } from './schema.js';

const toWebhook = (r: WebhooksTable): WebhookRecord => ({
  id: r.id,
  roomId: r.room_id,
  createdBy: r.created_by,
  url: r.url,
  secretSealed: r.secret_sealed,
  previousSecretSealed: r.previous_secret_sealed,
  previousSecretUntil: r.previous_secret_until === null ? null : Number(r.previous_secret_until),
  events: r.events === null ? null : (JSON.parse(r.events) as EventKind[]),
  state: r.state,
  disabledReason: r.disabled_reason,
  failingSince: r.failing_since === null ? null : Number(r.failing_since),
  cursorSeq: Number(r.cursor_seq),
  createdAt: Number(r.created_at),
});

export async function createWebhook(db: Kysely<Database>, w: WebhookRecord): Promise<void> {
  await db
    .insertInto('webhooks')
    .values({
      id: w.id,
      room_id: w.roomId,
      created_by: w.createdBy,
      url: w.url,
      secret_sealed: w.secretSealed,
      previous_secret_sealed: w.previousSecretSealed,
      previous_secret_until: w.previousSecretUntil,
      events: w.events === null ? null : JSON.stringify(w.events),
      state: w.state,
      disabled_reason: w.disabledReason,
      failing_since: w.failingSince,
      cursor_seq: w.cursorSeq,
      created_at: w.createdAt,
    })
    .execute();
}

export async function findWebhook(db: Kysely<Database>, id: string): Promise<WebhookRecord | undefined> {
  const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toWebhook(row);
}

export async function listWebhooks(db: Kysely<Database>, roomId: string): Promise<WebhookRecord[]> {
  const rows = await db.selectFrom('webhooks').selectAll().where('room_id', '=', roomId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toWebhook);
}

export async function updateWebhook(db: Kysely<Database>, id: string, c: WebhookChanges): Promise<void> {
  const set: Partial<WebhooksTable> = {};
  if (c.secretSealed !== undefined) set.secret_sealed = c.secretSealed;
  if (c.previousSecretSealed !== undefined) set.previous_secret_sealed = c.previousSecretSealed;
  if (c.previousSecretUntil !== undefined) set.previous_secret_until = c.previousSecretUntil;
  if (c.state !== undefined) set.state = c.state;
  if (c.disabledReason !== undefined) set.disabled_reason = c.disabledReason;
  if (c.failingSince !== undefined) set.failing_since = c.failingSince;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('webhooks').set(set).where('id', '=', id).execute();
}

/** Starts the failing period unless one runs; answers when it started. */
export async function markWebhookFailing(db: Kysely<Database>, id: string, now: number): Promise<number> {
  await db.updateTable('webhooks').set({ failing_since: now }).where('id', '=', id).where('failing_since', 'is', null).execute();
  const row = await db.selectFrom('webhooks').select('failing_since').where('id', '=', id).executeTakeFirst();
  return row?.failing_since === null || row === undefined ? now : Number(row.failing_since);
}

export async function deleteWebhook(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
  await db.deleteFrom('webhooks').where('id', '=', id).execute();
}

export async function activeWebhookIds(db: Kysely<Database>, roomId: string): Promise<string[]> {
  const rows = await db.selectFrom('webhooks').select('id').where('room_id', '=', roomId).where('state', '=', 'active').execute();
  return rows.map((r) => r.id);
}

export async function webhooksBehind(db: Kysely<Database>, limit: number): Promise<Array<{ id: string; cursorSeq: number }>> {
  const rows = await db
    .selectFrom('webhooks as w')
    .innerJoin('rooms as r', 'r.id', 'w.room_id')
    .select(['w.id', 'w.cursor_seq'])
    .where('w.state', '=', 'active')
    .whereRef('w.cursor_seq', '<', 'r.last_seq')
    // The furthest behind first, so a few busy endpoints do not hide the others.
    .orderBy((eb) => eb('r.last_seq', '-', eb.ref('w.cursor_seq')), 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, cursorSeq: Number(r.cursor_seq) }));
}

/** Moves the cursor forward only. */
export async function advanceWebhookCursor(db: Kysely<Database>, id: string, seq: number): Promise<void> {
  await db.updateTable('webhooks').set({ cursor_seq: seq }).where('id', '=', id).where('cursor_seq', '<', seq).execute();
}

export async function recordWebhookDelivery(db: Kysely<Database>, d: WebhookDeliveryRecord): Promise<void> {
  await db
    .insertInto('webhook_deliveries')
    .values({ webhook_id: d.webhookId, seq: d.seq, attempt: d.attempt, ok: d.ok ? 1 : 0, status: d.status, error: d.error, duration_ms: d.durationMs, at: d.at })
    .execute();
}

export async function listWebhookDeliveries(db: Kysely<Database>, webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
  const rows = await db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    webhookId: r.webhook_id,
    seq: Number(r.seq),
    attempt: Number(r.attempt),
    ok: Number(r.ok) === 1,
    status: r.status === null ? null : Number(r.status),
    error: r.error,
    durationMs: Number(r.duration_ms),
    at: Number(r.at),
  }));
}

/** Keeps the newest `keep` attempts of the endpoint. */
export async function pruneWebhookDeliveries(db: Kysely<Database>, webhookId: string, keep: number): Promise<void> {
  const cutoff = await db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', webhookId).orderBy('id', 'desc').offset(keep).limit(1).executeTakeFirst();
  if (cutoff === undefined) return;
  await db.deleteFrom('webhook_deliveries').where('webhook_id', '=', webhookId).where('id', '<=', cutoff.id).execute();
}
