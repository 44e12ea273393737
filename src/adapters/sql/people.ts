/**
 * The SQL of people (both dialects): profile changes, user search and paged member lists.
 * The indexes are migration 14's; test/contracts/query-plans.contract.ts holds each statement
 * to its index.
 */
import { type Kysely, sql } from 'kysely';
import { DELETED_USERNAME_PREFIX, nameConflictError } from '../../domain/name-conflicts.js';
import type { MemberCursor, MemberRecord, ProfileChanges, UserRecord, UserSearchCursor, UserSearchQuery } from '../../domain/types.js';
import type { SqlDialect } from './dialect.js';
import { toMember, toUser } from './mappers.js';
import { prefixEnd } from './room-search.js';
import type { Database } from './schema.js';

/**
 * Applies `changes` to the user and answers the user as they are now (undefined: no such user).
 * A display name that reads as another user's username is refused with `conflict`
 * (display_name_resembles_username), atomically against a registration of that username: both
 * take the same name lock (SqlStore.createUser).
 */
export async function updateProfile(db: Kysely<Database>, dialect: SqlDialect, userId: string, changes: ProfileChanges): Promise<UserRecord | undefined> {
  return dialect.write(db, async (trx) => {
    const { displayName, status } = changes;
    if (displayName !== undefined) {
      // No one passes for a deleted account (name-conflicts.ts).
      if (displayName.folded.startsWith(DELETED_USERNAME_PREFIX)) throw nameConflictError('display_name_resembles_username');
      await dialect.lockKeys(trx, [`name:${displayName.folded}`]);
      const clash = await trx.selectFrom('users').select('id').where('username', '=', displayName.folded).where('id', '<>', userId).executeTakeFirst();
      if (clash !== undefined) throw nameConflictError('display_name_resembles_username');
    }
    const values = {
      ...(displayName === undefined ? {} : { display_name: displayName.value, display_name_folded: displayName.folded }),
      ...(status === undefined ? {} : { status_text: status?.text ?? null, status_expires_at: status?.expiresAt ?? null }),
    };
    if (Object.keys(values).length > 0) await trx.updateTable('users').set(values).where('id', '=', userId).execute();
    const row = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    return row && toUser(row);
  });
}

/**
 * A page of user search, as Store.searchUsers describes it: two walks, each one range of an
 * index in code-point order stopped by the LIMIT.
 */
export async function searchUsers(db: Kysely<Database>, dialect: SqlDialect, query: UserSearchQuery): Promise<{ users: UserRecord[]; next: UserSearchCursor | null }> {
  const { limit, after } = query;
  const users: UserRecord[] = [];
  const username = dialect.userCodePointKey('username');
  const usernameEnd = prefixEnd(query.username);
  // A cursor outside the query's range (made for another query) never widens the range.
  const atLeast = (cursor: string, start: string) => (cursor > start ? cursor : start);

  if (after === null || after.phase === 'username') {
    const rows = await db
      .selectFrom('users')
      .selectAll()
      // One lower bound, so that the walk starts at the cursor. Usernames hold no control
      // character, so none lies between X and X + U+0001 (PostgreSQL text holds no NUL).
      .where(sql<boolean>`${username} >= ${after === null ? query.username : atLeast(`${after.username}\u0001`, query.username)}`)
      .$if(usernameEnd !== null, (b) => b.where(sql<boolean>`${username} < ${usernameEnd}`))
      .where('deactivated_at', 'is', null)
      .where('deleted_at', 'is', null)
      .orderBy(username)
      .limit(limit + 1)
      .execute();
    for (const row of rows.slice(0, limit)) users.push(toUser(row));
    if (rows.length > limit) return { users, next: { phase: 'username', username: (users.at(-1) as UserRecord).username } };
  }

  // Display names that match, of users whose username did not (those were listed above). With
  // the page full already, one row tells whether there is a next page. Users of both kinds
  // ("alice", "Alice") are skipped inside the walk: at worst it reads the matches, never the table.
  const want = limit - users.length;
  const folded = dialect.userCodePointKey('display_name_folded');
  const foldedEnd = prefixEnd(query.folded);
  const from = after?.phase === 'displayName' ? after : null;
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .where(sql<boolean>`${folded} >= ${from === null ? query.folded : atLeast(from.folded, query.folded)}`)
    .$if(foldedEnd !== null, (b) => b.where(sql<boolean>`${folded} < ${foldedEnd}`))
    .$if(from !== null, (b) => b.where(sql<boolean>`(${folded} > ${from?.folded} OR (${folded} = ${from?.folded} AND id > ${from?.id}))`))
    .where(sql<boolean>`NOT (${username} >= ${query.username}${usernameEnd === null ? sql`` : sql` AND ${username} < ${usernameEnd}`})`)
    .where('deactivated_at', 'is', null)
    .where('deleted_at', 'is', null)
    .orderBy(folded)
    .orderBy('id')
    .limit(want + 1)
    .execute();
  for (const row of rows.slice(0, want)) users.push(toUser(row));
  if (rows.length <= want) return { users, next: null };
  // A page filled by username matches: the next one starts after its last (and finds the display names).
  if (want === 0) return { users, next: { phase: 'username', username: (users.at(-1) as UserRecord).username } };
  const last = rows[want - 1] as (typeof rows)[number];
  return { users, next: { phase: 'displayName', folded: last.display_name_folded, id: last.id } };
}

/**
 * The room's members in join order (ties by user id), after `after`, at most `limit` (all
 * without a page): one walk of members_room_joined from the cursor, the users by primary key.
 */
export async function listMembers(
  db: Kysely<Database>,
  roomId: string,
  page: { after: MemberCursor | null; limit: number } | undefined,
): Promise<Array<{ member: MemberRecord; user: UserRecord }>> {
  const after = page?.after ?? null;
  const rows = await db
    .selectFrom('members as mb')
    .innerJoin('users as u', 'u.id', 'mb.user_id')
    .selectAll('mb')
    .select(['u.username', 'u.display_name', 'u.password_hash', 'u.created_at', 'u.bot_owner_id', 'u.deactivated_at', 'u.avatar_id', 'u.status_text', 'u.status_expires_at'])
    .where('mb.room_id', '=', roomId)
    .$if(after !== null, (b) =>
      b.where((eb) => eb.or([eb('mb.joined_at', '>', after?.joinedAt ?? 0), eb.and([eb('mb.joined_at', '=', after?.joinedAt ?? 0), eb('mb.user_id', '>', after?.userId ?? '')])])),
    )
    .orderBy('mb.joined_at')
    .orderBy('mb.user_id')
    .$if(page !== undefined, (b) => b.limit(page?.limit ?? 0))
    .execute();
  return rows.map((r) => ({
    member: toMember(r),
    user: toUser({
      id: r.user_id,
      username: r.username,
      display_name: r.display_name,
      password_hash: r.password_hash,
      created_at: r.created_at,
      bot_owner_id: r.bot_owner_id,
      deactivated_at: r.deactivated_at,
      avatar_id: r.avatar_id,
      status_text: r.status_text,
      status_expires_at: r.status_expires_at,
    }),
  }));
}
