/**
 * The statements sharding needs beyond the Store port (sharding.ts): the room directory and its
 * moves, on the primary; the copies of users and uploads a shard keeps for its joins; and the
 * primary's halves of what spans databases (attachments claimed before a shard commits the
 * message, notifications and webhooks checked against rooms on their shards). PostgreSQL only.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type { NotificationPage } from '../../ports.js';
import { notificationPage } from './notifications.js';
import type { Database, RoomDirectoryTable, UploadsTable, UsersTable } from './schema.js';

export type UserRow = Selectable<UsersTable>;
export type UploadRow = Selectable<UploadsTable>;

export interface DirectoryEntry {
  shard: string;
  movingTo: string | null;
}

export interface MovesSeen {
  /** Rooms being moved now: room id → the shard they go to. */
  moving: Map<string, string>;
  /** Rooms whose move ended after `since`. */
  moved: string[];
  /** The latest move seq seen (the next poll's `since`). */
  seq: number;
}

/** A notification row of the primary, before its room's shard says whether it is still shown. */
export interface NotificationRow {
  id: number;
  room_id: string;
  seq: number;
  kind: string;
  created_at: number;
  actor_id: string;
  username: string;
  display_name: string;
  bot_owner_id: string | null;
}

const CHUNK = 500;

/** Rows in id order: writers of the same rows lock them in one order, never crosswise. */
const inIdOrder = <T extends { id: string }>(rows: T[]): T[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

async function inChunks<T>(items: T[], fn: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) await fn(items.slice(i, i + CHUNK));
}

export class ShardSql {
  readonly #db: Kysely<Database>;
  /** The query builder these statements run on (a move runs its own transactions on it). */
  readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.db = db;
  }

  // The directory (primary)

  async directoryEntry(roomId: string): Promise<DirectoryEntry | undefined> {
    const row = await this.#db.selectFrom('room_directory').select(['shard', 'moving_to']).where('room_id', '=', roomId).executeTakeFirst();
    return row === undefined ? undefined : { shard: row.shard, movingTo: row.moving_to };
  }

  /** The directory row of the DM of `dmKey`, or of the room of `roomId`, whichever was written first. */
  async directoryByDm(dmKey: string): Promise<{ roomId: string; shard: string } | undefined> {
    const row = await this.#db.selectFrom('room_directory').select(['room_id', 'shard']).where('dm_key', '=', dmKey).executeTakeFirst();
    return row === undefined ? undefined : { roomId: row.room_id, shard: row.shard };
  }

  /** A DM of the pair created before sharding, in the primary's own rooms. */
  async legacyDm(dmKey: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('rooms').select('id').where('dm_key', '=', dmKey).executeTakeFirst();
    return row?.id;
  }

  /** Places a room; a DM key already placed keeps its first room (no row is written then). */
  async place(entry: Pick<RoomDirectoryTable, 'room_id' | 'shard' | 'dm_key' | 'created_at'>): Promise<void> {
    await this.#db
      .insertInto('room_directory')
      .values({ ...entry, moving_to: null, move_seq: null })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Every room being moved, and those whose move ended after `since`. */
  async movesSince(since: number): Promise<MovesSeen> {
    const rows = await this.#db
      .selectFrom('room_directory')
      .select(['room_id', 'moving_to', 'move_seq'])
      .where((eb) => eb.or([eb('moving_to', 'is not', null), eb('move_seq', '>', since)]))
      .execute();
    const moving = new Map<string, string>();
    const moved: string[] = [];
    let seq = since;
    for (const row of rows) {
      if (row.moving_to !== null) moving.set(row.room_id, row.moving_to);
      if (row.move_seq !== null && Number(row.move_seq) > since) {
        moved.push(row.room_id);
        seq = Math.max(seq, Number(row.move_seq));
      }
    }
    return { moving, moved, seq };
  }

  async latestMoveSeq(): Promise<number> {
    const row = await this.#db.selectFrom('room_directory').select((eb) => eb.fn.max('move_seq').as('seq')).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /** Rooms per shard in the directory (rooms without a row are on the primary, not counted here). */
  async roomsPerShard(): Promise<Map<string, number>> {
    const rows = await this.#db.selectFrom('room_directory').select(['shard', (eb) => eb.fn.countAll<number>().as('rooms')]).groupBy('shard').execute();
    return new Map(rows.map((r) => [r.shard, Number(r.rooms)]));
  }

  /**
   * Announces the room's move from `from` to `to` (a room without a row gets one, with its DM
   * key: it was on the primary). False when the room is elsewhere, or another move of it is under way.
   */
  async beginMove(roomId: string, from: string, to: string, at: number, dmKey: string | null): Promise<boolean> {
    await this.#db
      .insertInto('room_directory')
      .values({ room_id: roomId, shard: from, dm_key: dmKey, moving_to: null, move_seq: null, created_at: at })
      .onConflict((oc) => oc.doNothing())
      .execute();
    const result = await this.#db
      .updateTable('room_directory')
      .set({ moving_to: to })
      .where('room_id', '=', roomId)
      .where('shard', '=', from)
      .where((eb) => eb.or([eb('moving_to', 'is', null), eb('moving_to', '=', to)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** The room is on `to` now; every node's next poll sees the move ended. */
  async finishMove(roomId: string, to: string): Promise<void> {
    await sql`UPDATE room_directory SET shard = ${to}, moving_to = NULL, move_seq = nextval('room_moves') WHERE room_id = ${roomId} AND moving_to = ${to}`.execute(this.#db);
  }

  /** The move is given up: the room stays where it was. */
  async cancelMove(roomId: string): Promise<void> {
    await sql`UPDATE room_directory SET moving_to = NULL, move_seq = nextval('room_moves') WHERE room_id = ${roomId}`.execute(this.#db);
  }

  /**
   * Drops the foreign keys from `tables` to rooms: on a sharded primary they name rooms that
   * live on other databases. Answers the constraints dropped.
   */
  async detachFromRooms(tables: string[]): Promise<string[]> {
    const { rows } = await sql<{ table: string; name: string }>`
      SELECT conrelid::regclass::text AS table, conname AS name FROM pg_constraint
      WHERE contype = 'f' AND confrelid = 'rooms'::regclass AND conrelid::regclass::text = ANY(${tables})`.execute(this.#db);
    for (const row of rows) await sql`ALTER TABLE ${sql.id(row.table)} DROP CONSTRAINT IF EXISTS ${sql.id(row.name)}`.execute(this.#db);
    return rows.map((r) => `${r.table}.${r.name}`);
  }

  // Copies a shard keeps for its joins

  async users(ids: string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return (await this.#db.selectFrom('users').selectAll().where('id', 'in', ids).execute()) as UserRow[];
  }

  /**
   * Inserts the users as the primary has them where the shard has no copy yet, and leaves any
   * copy there alone (ON CONFLICT DO NOTHING takes no lock on it): what a room's write needs
   * before it names them, never blocking a concurrent write that holds their rows (a member
   * insert's key share).
   */
  async insertUsers(rows: UserRow[]): Promise<void> {
    await inChunks(inIdOrder(rows), (chunk) =>
      this.#db
        .insertInto('users')
        .values(chunk.map((u) => ({ ...u, password_hash: '' })))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
    );
  }

  /**
   * Writes the users as the primary has them, without their password hashes (shards never sign
   * anyone in). In id order: two writers of the same users lock them in one order, never crosswise.
   * An update of a copy locks its row for update (its username is a key): used where a copy must
   * change (refreshUser), not on every write that names users.
   */
  async upsertUsers(rows: UserRow[]): Promise<void> {
    const sorted = inIdOrder(rows);
    await inChunks(sorted, (chunk) =>
      this.#db
        .insertInto('users')
        .values(chunk.map((u) => ({ ...u, password_hash: '' })))
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            username: eb.ref('excluded.username'),
            display_name: eb.ref('excluded.display_name'),
            display_name_folded: eb.ref('excluded.display_name_folded'),
            bot_owner_id: eb.ref('excluded.bot_owner_id'),
            deactivated_at: eb.ref('excluded.deactivated_at'),
            avatar_id: eb.ref('excluded.avatar_id'),
            status_text: eb.ref('excluded.status_text'),
            status_expires_at: eb.ref('excluded.status_expires_at'),
          })),
        )
        .execute(),
    );
  }

  async uploads(ids: string[]): Promise<UploadRow[]> {
    if (ids.length === 0) return [];
    return (await this.#db.selectFrom('uploads').selectAll().where('id', 'in', ids).execute()) as UploadRow[];
  }

  async upsertUploads(rows: UploadRow[]): Promise<void> {
    const sorted = inIdOrder(rows);
    await inChunks(sorted, (chunk) =>
      this.#db
        .insertInto('uploads')
        .values(chunk)
        // A copy the shard attached stays attached: its own state is what refuses a second use.
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), message_seq: eb.ref('excluded.message_seq') }))
            .where('uploads.state', '<>', 'attached'),
        )
        .execute(),
    );
  }

  // The primary's half of attachments and room avatars

  /**
   * Claims the author's attachments of the room before a shard commits the message that
   * attaches them: attached, with no message yet, so the files sweep cannot doom them while the
   * shard commits. Ready ones, and ones claimed before and never settled (a send made again
   * after its answer was lost, or racing with this one): the shard's commit decides which
   * message gets them. One statement, so racing sends all see the same rows. Answers the ids.
   */
  async claimAttachments(ids: string[], userId: string, roomId: string): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db
      .updateTable('uploads')
      .set({ state: 'attached' })
      .where('id', 'in', ids)
      .where((eb) => eb.or([eb('state', '=', 'ready'), eb.and([eb('state', '=', 'attached'), eb('message_seq', 'is', null)])]))
      .where('kind', '=', 'attachment')
      .where('user_id', '=', userId)
      .where('room_id', '=', roomId)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  /** Gives back claims whose message was not committed. */
  async releaseClaims(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.updateTable('uploads').set({ state: 'ready' }).where('id', 'in', ids).where('state', '=', 'attached').where('message_seq', 'is', null).execute();
  }

  /**
   * Records the messages the shard attached these uploads to. Also over a claim a racing send
   * gave back meanwhile (ready again): the shard's commit is what counts.
   */
  async settleAttachments(attached: Array<{ id: string; seq: number }>): Promise<void> {
    for (const a of attached) {
      await this.#db
        .updateTable('uploads')
        .set({ state: 'attached', message_seq: a.seq })
        .where('id', '=', a.id)
        .where('message_seq', 'is', null)
        .where('state', 'in', ['attached', 'ready'])
        .execute();
    }
  }

  /** The states of these uploads' rows here (a shard's copies). */
  async uploadStates(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#db.selectFrom('uploads').select(['id', 'state']).where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, r.state]));
  }

  /** The attachments of the room's deleted messages `seqs` are doomed (the files sweep deletes them). */
  async doomAttachments(roomId: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.#db.updateTable('uploads').set({ state: 'doomed' }).where('room_id', '=', roomId).where('message_seq', 'in', seqs).where('state', '=', 'attached').execute();
  }

  /** The attachments of the room's messages up to `seq` are doomed (a retention purge tombstoned them). */
  async doomAttachmentsThrough(roomId: string, seq: number): Promise<void> {
    await this.#db.updateTable('uploads').set({ state: 'doomed' }).where('room_id', '=', roomId).where('message_seq', '<=', seq).where('state', '=', 'attached').execute();
  }

  async claimRoomAvatar(id: string, roomId: string): Promise<boolean> {
    const result = await this.#db.updateTable('uploads').set({ state: 'attached' }).where('id', '=', id).where('state', '=', 'ready').where('kind', '=', 'room_avatar').where('room_id', '=', roomId).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async doomUpload(id: string): Promise<void> {
    await this.#db.updateTable('uploads').set({ state: 'doomed' }).where('id', '=', id).where('state', '=', 'attached').execute();
  }

  // The primary's half of notifications and webhooks

  /** The user's notification rows of `page`, with their actors; not yet checked against their rooms. */
  async notificationRows(userId: string, page: NotificationPage): Promise<NotificationRow[]> {
    const rows = await notificationPage(this.#db, userId, page)
      .select(['n.id', 'n.room_id', 'n.seq', 'n.kind', 'n.created_at', 'u.id as actor_id', 'u.username', 'u.display_name', 'u.bot_owner_id'])
      .execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), seq: Number(r.seq), created_at: Number(r.created_at), bot_owner_id: r.bot_owner_id ?? null }));
  }

  /** Of the user's newest `rows` notifications after `readUpTo`, how many are in each room. */
  async unreadNotificationRooms(userId: string, readUpTo: number, rows: number): Promise<Array<{ roomId: string; count: number }>> {
    const newest = this.#db.selectFrom('notifications').select('room_id').where('user_id', '=', userId).where('id', '>', readUpTo).orderBy('id', 'desc').limit(rows).as('n');
    const counted = await this.#db.selectFrom(newest).select(['room_id', (eb) => eb.fn.countAll<number>().as('count')]).groupBy('room_id').execute();
    return counted.map((r) => ({ roomId: r.room_id, count: Number(r.count) }));
  }

  /** Active webhooks and their cursors, at most `limit`. */
  async activeWebhooks(limit: number): Promise<Array<{ id: string; roomId: string; cursorSeq: number }>> {
    const rows = await this.#db.selectFrom('webhooks').select(['id', 'room_id', 'cursor_seq']).where('state', '=', 'active').orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ id: r.id, roomId: r.room_id, cursorSeq: Number(r.cursor_seq) }));
  }
}
