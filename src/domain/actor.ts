/**
 * Who is asking: a person, or a bot (src/domain/bots.ts). A bot acts only in the rooms a member
 * added it to: it cannot create or join rooms, open direct messages, add members, or make bots
 * and webhooks. Each of those service methods refuses bots as its first statement.
 */
import { forbidden } from '../errors.js';
import type { Author, UserRecord } from './types.js';

/** The caller as the services that treat bots apart need it. */
export type Actor = Pick<UserRecord, 'id' | 'botOwnerId'>;

export const isBot = (user: Pick<UserRecord, 'botOwnerId'>): boolean => (user.botOwnerId ?? null) !== null;

/** Whether a server administrator disabled (or deleted) the account, or its owner's (a bot's). */
export const isDisabled = (user: Pick<UserRecord, 'disabledAt' | 'ownerDisabledAt'>): boolean => (user.disabledAt ?? null) !== null || (user.ownerDisabledAt ?? null) !== null;

/** A deleted bot, or an account a server administrator deleted: its row stays for its messages, but it is no user to add, message or look up. */
export const isGone = (user: Pick<UserRecord, 'deactivatedAt' | 'deletedAt'>): boolean => (user.deactivatedAt ?? null) !== null || (user.deletedAt ?? null) !== null;

/** What a bot is told when it reaches past the rooms it was added to. */
export const BOT_SCOPE = 'A bot acts only in the rooms a member added it to';

/** Refuses bots: `action` completes "A bot cannot …". */
export function refuseBots(actor: Actor, action: string): void {
  if (isBot(actor)) throw forbidden(`A bot cannot ${action}. ${BOT_SCOPE}.`);
}

/** The author shape of a user: `bot` only when true, so people's views are as they always were. */
export function authorOf(user: { id: string; username: string; displayName: string; botOwnerId?: string | null | undefined }): Author {
  const author: Author = { id: user.id, username: user.username, displayName: user.displayName };
  if ((user.botOwnerId ?? null) !== null) author.bot = true;
  return author;
}
