/**
 * Where notifications come from. The notifier (notifier.ts) reads each new message of a room and
 * asks every source whom it concerns; it then applies what no source decides: the author is
 * never notified, blocks, mutes and each member's level for the room, and one notification per
 * user and message (the strongest reason wins).
 *
 * Adding a source is one call: `notifier.addSource(source)` where the notifier is built
 * (src/notifications/open.ts). Two are there: mentions, and replies in followed threads.
 */
import { parseMentions } from '../protocol/mentions.js';
import type { MessageRecord, NotificationKind, UserRecord } from '../domain/types.js';
import type { Store } from '../ports.js';

/** One user a message concerns, and why. */
export interface Candidate {
  userId: string;
  kind: NotificationKind;
}

/** What a source may read about the message's room, loaded once per notifier run. */
export interface SourceContext {
  /** The room's members now. */
  members: ReadonlySet<string>;
  /** A user by lower-cased username. */
  findUser(username: string): Promise<UserRecord | undefined>;
  /** Takes one of the author's @room tokens for this room; false when they have none left. */
  allowRoomMention(authorId: string, roomId: string): Promise<boolean>;
}

export interface NotificationSource {
  /** Names the source in logs. */
  readonly name: string;
  /** The users `message` concerns according to this source (members or not: the notifier keeps members only). */
  candidates(message: MessageRecord, context: SourceContext): Promise<Candidate[]>;
}

/**
 * `@username` of a member, and `@room` (every member) when the author is a member and within the
 * @room rate limit; over it, the @room notifies nobody (the message itself is sent).
 */
export const mentionsSource: NotificationSource = {
  name: 'mentions',
  async candidates(message, context) {
    const mentions = parseMentions(message.body);
    const out: Candidate[] = [];
    for (const username of mentions.usernames) {
      const user = await context.findUser(username);
      if (user !== undefined) out.push({ userId: user.id, kind: 'mention' });
    }
    if (mentions.room && context.members.has(message.author.id) && (await context.allowRoomMention(message.author.id, message.roomId))) {
      for (const userId of context.members) out.push({ userId, kind: 'room_mention' });
    }
    return out;
  },
};

/**
 * A reply in a thread: the thread's followers (its root's author and repliers follow it unless they
 * unfollowed; see Store.listThreadFollowers), each with kind `thread_reply`.
 */
export function threadRepliesSource(store: Pick<Store, 'listThreadFollowers'>): NotificationSource {
  return {
    name: 'thread-replies',
    async candidates(message) {
      if (message.threadRoot === undefined || message.threadRoot === null) return [];
      const followers = await store.listThreadFollowers(message.roomId, message.threadRoot);
      return followers.map((userId) => ({ userId, kind: 'thread_reply' as const }));
    },
  };
}

/** How strong each reason is: a user concerned several ways is notified once, for the strongest. */
export const KIND_RANK: Readonly<Record<NotificationKind, number>> = { mention: 3, room_mention: 2, thread_reply: 1, message: 0 };
