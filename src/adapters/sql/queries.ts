/** Query fragments shared by the store and the append path. */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { MessageRow } from './mappers.js';
import type { Database } from './schema.js';

type MessageSelect = SelectQueryBuilder<Database & { m: Database['messages']; u: Database['users'] }, 'm' | 'u', MessageRow>;

/** The columns toMessage reads, of messages as `m` and their author as `u`. */
export const MESSAGE_COLUMNS = [
  'm.room_id',
  'm.seq',
  'm.id',
  'm.author_id',
  'm.body',
  'm.created_at',
  'm.edited_at',
  'm.deleted',
  'm.client_msg_id',
  'm.attachments',
  'm.thread_root',
  'm.reply_count',
  'm.last_reply_at',
  'u.username as author_username',
  'u.display_name as author_display_name',
  'u.bot_owner_id as author_bot_owner_id',
] as const;

/** Messages as `m` with their author as `u`: the columns toMessage reads. */
export function selectMessages(db: Kysely<Database>): MessageSelect {
  return db
    .selectFrom('messages as m')
    .innerJoin('users as u', 'u.id', 'm.author_id')
    .select(MESSAGE_COLUMNS) as unknown as MessageSelect;
}
