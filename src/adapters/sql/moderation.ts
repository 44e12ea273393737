/**
 * Moderation in SQL: one transaction per action that locks the room row (as append.ts's
 * batches do, so seqs stay gapless and commit-ordered), reads the state the rules need, and
 * writes what src/domain/moderation-rules.ts decides: the stream event, the membership, role,
 * restriction or settings it changes, and its audit entry.
 */
import type { Kysely } from 'kysely';
import { inForce, planModeration, type ModerationState } from '../../domain/moderation-rules.js';
import type { AuditRecord, Author, ModerationDetails, ModerationKind, RestrictionRecord, Role, StreamEventRecord } from '../../domain/types.js';
import type { ModerationOutcome, ModerationRequest } from '../../ports.js';
import { inChunks, type SqlDialect } from './dialect.js';
import { toAuthor, toRoom } from './mappers.js';
import type { Database } from './schema.js';

/** A moderation event's fields as stored (events.data, audit_log.data); null when it has none. */
export const encodeDetails = (details: ModerationDetails): string | null => (Object.keys(details).length === 0 ? null : JSON.stringify(details));

export const decodeDetails = (data: string | null | undefined): ModerationDetails => (data == null ? {} : (JSON.parse(data) as ModerationDetails));

export async function moderate(db: Kysely<Database>, dialect: SqlDialect, request: ModerationRequest): Promise<ModerationOutcome> {
  const { roomId, actorId, at, action } = request;
  const memberId = action.kind === 'room_updated' ? null : action.memberId;
  return dialect.write(db, async (trx) => {
    const room = await trx
      .selectFrom('rooms')
      .selectAll()
      .where('id', '=', roomId)
      .$if(dialect.lockRows, (q) => q.forUpdate())
      .executeTakeFirst();
    if (room === undefined) return { status: 'refused', code: 'not_found' };
    const ids = memberId === null ? [actorId] : [actorId, memberId];
    const [members, users, restrictions] = await Promise.all([
      trx.selectFrom('members').select(['user_id', 'role']).where('room_id', '=', roomId).where('user_id', 'in', ids).execute(),
      trx.selectFrom('users').select(['id', 'username', 'display_name', 'bot_owner_id']).where('id', 'in', ids).execute(),
      memberId === null
        ? Promise.resolve([])
        : trx.selectFrom('room_restrictions').select(['kind', 'until']).where('room_id', '=', roomId).where('user_id', '=', memberId).execute(),
    ]);
    const roleOf = (userId: string): Role | null => members.find((m) => m.user_id === userId)?.role ?? null;
    const authors = new Map<string, Author>(users.map((u) => [u.id, toAuthor(u.id, u.username, u.display_name, u.bot_owner_id)]));
    const restricted = (kind: 'ban' | 'mute'): boolean => restrictions.some((r) => r.kind === kind && inForce(r.until === null ? null : Number(r.until), at));
    const state: ModerationState = {
      room: { visibility: room.visibility, name: room.name, topic: room.topic, archived: room.archived_at !== null },
      actorRole: request.asServerAdmin === true ? 'owner' : roleOf(actorId),
      subject: memberId === null || !authors.has(memberId) ? null : { role: roleOf(memberId), banned: restricted('ban'), muted: restricted('mute') },
    };
    const plan = planModeration(state, actorId, action);
    if (plan.status === 'refused') return plan;
    if (plan.status === 'noop') return { status: 'noop', room: toRoom(room) };

    const seq = room.last_seq + 1;
    const data = encodeDetails(plan.details);
    const kind: ModerationKind = action.kind;
    await trx.insertInto('events').values({ room_id: roomId, seq, kind, target: null, user_id: actorId, created_at: at, member_id: memberId, data }).execute();
    await trx.insertInto('audit_log').values({ room_id: roomId, seq, action: kind, actor_id: actorId, member_id: memberId, data, created_at: at }).execute();
    if (memberId !== null && plan.removeMember) await trx.deleteFrom('members').where('room_id', '=', roomId).where('user_id', '=', memberId).execute();
    if (memberId !== null && plan.role !== null) await trx.updateTable('members').set({ role: plan.role }).where('room_id', '=', roomId).where('user_id', '=', memberId).execute();
    if (memberId !== null && plan.restriction !== null) {
      const { kind: restriction, set } = plan.restriction;
      await trx.deleteFrom('room_restrictions').where('room_id', '=', roomId).where('user_id', '=', memberId).where('kind', '=', restriction).execute();
      if (set !== null) {
        await trx
          .insertInto('room_restrictions')
          .values({ room_id: roomId, user_id: memberId, kind: restriction, until: set.until, reason: set.reason, created_by: actorId, created_at: at })
          .execute();
      }
    }
    const settings = plan.room ?? {};
    const archivedAt = settings.archived === undefined ? room.archived_at : settings.archived ? at : null;
    await trx
      .updateTable('rooms')
      .set({
        last_seq: seq,
        last_activity_at: Math.max(room.last_activity_at, at),
        ...(settings.name !== undefined ? { name: settings.name } : {}),
        ...(settings.topic !== undefined ? { topic: settings.topic } : {}),
        ...(settings.archived !== undefined ? { archived_at: archivedAt } : {}),
      })
      .where('id', '=', roomId)
      .execute();
    const actor = authors.get(actorId) as Author;
    const event: StreamEventRecord = { roomId, seq, kind, target: null, user: actor, createdAt: at, message: null, details: plan.details };
    if (memberId !== null) event.member = authors.get(memberId) as Author;
    if (kind === 'member_banned' && !plan.removeMember) event.wasNotMember = true;
    const after = toRoom({ ...room, last_seq: seq, name: settings.name ?? room.name, topic: settings.topic ?? room.topic, archived_at: archivedAt });
    return { status: 'appended', event, room: after };
  });
}

/** The mutes in force at `now` of those of `userIds` muted in the room: user id → until (null: until lifted). */
export async function mutesOf(db: Kysely<Database>, dialect: SqlDialect, roomId: string, userIds: string[], now: number): Promise<Map<string, number | null>> {
  const mutes = new Map<string, number | null>();
  await inChunks([...new Set(userIds)], 1, dialect, async (chunk) => {
    const rows = await db
      .selectFrom('room_restrictions')
      .select(['user_id', 'until'])
      .where('room_id', '=', roomId)
      .where('kind', '=', 'mute')
      .where('user_id', 'in', chunk)
      .where((eb) => eb.or([eb('until', 'is', null), eb('until', '>', now)]))
      .execute();
    for (const r of rows) mutes.set(r.user_id, r.until === null ? null : Number(r.until));
  });
  return mutes;
}

export async function listRestrictions(db: Kysely<Database>, roomId: string, now: number): Promise<RestrictionRecord[]> {
  const rows = await db
    .selectFrom('room_restrictions as r')
    .innerJoin('users as u', 'u.id', 'r.user_id')
    .innerJoin('users as c', 'c.id', 'r.created_by')
    .select([
      'r.room_id',
      'r.user_id',
      'r.kind',
      'r.until',
      'r.reason',
      'r.created_by',
      'r.created_at',
      'u.username',
      'u.display_name',
      'u.bot_owner_id',
      'c.username as c_username',
      'c.display_name as c_display_name',
      'c.bot_owner_id as c_bot_owner_id',
    ])
    .where('r.room_id', '=', roomId)
    .where((eb) => eb.or([eb('r.until', 'is', null), eb('r.until', '>', now)]))
    .orderBy('r.created_at', 'desc')
    .orderBy('r.user_id')
    .execute();
  return rows.map((r) => ({
    roomId: r.room_id,
    user: toAuthor(r.user_id, r.username, r.display_name, r.bot_owner_id),
    kind: r.kind,
    until: r.until === null ? null : Number(r.until),
    reason: r.reason,
    createdBy: toAuthor(r.created_by, r.c_username, r.c_display_name, r.c_bot_owner_id),
    createdAt: Number(r.created_at),
  }));
}

export async function listAudit(db: Kysely<Database>, roomId: string, before: number | undefined, limit: number): Promise<AuditRecord[]> {
  const rows = await db
    .selectFrom('audit_log as a')
    .innerJoin('users as u', 'u.id', 'a.actor_id')
    .leftJoin('users as m', 'm.id', 'a.member_id')
    .select([
      'a.room_id',
      'a.seq',
      'a.action',
      'a.actor_id',
      'a.member_id',
      'a.data',
      'a.created_at',
      'u.username',
      'u.display_name',
      'u.bot_owner_id',
      'm.username as m_username',
      'm.display_name as m_display_name',
      'm.bot_owner_id as m_bot_owner_id',
    ])
    .where('a.room_id', '=', roomId)
    .$if(before !== undefined, (q) => q.where('a.seq', '<', before as number))
    .orderBy('a.seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    roomId: r.room_id,
    seq: Number(r.seq),
    action: r.action as ModerationKind,
    actor: toAuthor(r.actor_id, r.username, r.display_name, r.bot_owner_id),
    member: r.member_id === null || r.m_username === null ? null : toAuthor(r.member_id, r.m_username, r.m_display_name as string, r.m_bot_owner_id),
    details: decodeDetails(r.data),
    createdAt: Number(r.created_at),
  }));
}
