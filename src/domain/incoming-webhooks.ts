/**
 * Incoming webhooks: a secret URL per webhook that posts a message into its room as its bot,
 * for programs that cannot hold a token or a WebSocket (CI, monitoring). The post goes through
 * the normal send path (Messages.submitSend): it gets its seq, is live on every WebSocket, in
 * history and in search, and a retry with the same clientMsgId stores nothing new.
 *
 * The URL's secret is shown once, when the webhook is made; only its hash is stored.
 */
import { AppError, forbidden, notFound } from '../errors.js';
import type { Store } from '../ports.js';
import type { Access } from './access.js';
import { type Actor, authorOf, refuseBots } from './actor.js';
import type { Bots } from './bots.js';
import { hashToken, newId, newToken } from './ids.js';
import type { Messages } from './messages.js';
import type { Rooms } from './rooms.js';
import type { IncomingWebhookWithBot, MessageRecord, UserRecord } from './types.js';

/** Where a webhook's secret goes: the path of its URL. */
export const HOOKS_PATH = '/api/v1/hooks';

const NO_SUCH_WEBHOOK = 'No such webhook.';

export class IncomingWebhooks {
  readonly #store: Store;
  readonly #access: Access;
  readonly #rooms: Rooms;
  readonly #bots: Bots;
  readonly #messages: Messages;

  constructor(store: Store, access: Access, rooms: Rooms, bots: Bots, messages: Messages) {
    this.#store = store;
    this.#access = access;
    this.#rooms = rooms;
    this.#bots = bots;
    this.#messages = messages;
  }

  /**
   * A webhook of the room, made by a member (not a bot). With `botId`, it posts as that bot of
   * the caller's, which must be a member of the room already; without, as a new bot of the
   * caller's named after it, added to the room. Not in DMs: no bot is ever in one.
   */
  async create(actor: Actor, roomId: string, input: { name: string; botId?: string | undefined }): Promise<{ webhook: IncomingWebhookWithBot; token: string }> {
    refuseBots(actor, 'create webhooks');
    await this.#access.requireMember(roomId, actor.id);
    const room = await this.#access.room(roomId);
    if (room.visibility === 'dm') throw forbidden('A direct-message room has no webhooks: they post as a bot, and bots are not in DMs.');
    let bot: UserRecord;
    if (input.botId !== undefined) {
      bot = await this.#bots.owned(actor, input.botId);
      if ((await this.#store.findMember(roomId, bot.id)) === undefined) throw forbidden('That bot is not a member of this room: add it first.');
    } else {
      const created = await this.#bots.createForWebhook(actor, input.name, 'name');
      try {
        await this.#rooms.addMember(actor, roomId, created.username);
      } catch (error) {
        // The caller left meanwhile: the new bot would be of no use, and counts against the cap.
        await this.#bots.delete(actor, created.id).catch(() => undefined);
        throw error;
      }
      bot = created;
    }
    const token = newToken();
    const record = { id: newId(), roomId, botId: bot.id, creatorId: actor.id, name: input.name, tokenHash: hashToken(token), createdAt: Date.now() };
    await this.#store.createIncomingWebhook(record);
    return { webhook: { ...record, bot: authorOf(bot) }, token };
  }

  /** The room's webhooks, for its members; without their secrets. */
  async list(actor: Actor, roomId: string): Promise<IncomingWebhookWithBot[]> {
    await this.#access.requireMember(roomId, actor.id);
    return this.#store.listIncomingWebhooks(roomId);
  }

  /** Deleted by its creator or the room's owner; its URL answers 404 from then on. Its bot stays. */
  async delete(actor: Actor, roomId: string, hookId: string): Promise<void> {
    const role = await this.#access.requireMember(roomId, actor.id);
    const hook = await this.#store.findIncomingWebhook(hookId);
    if (hook === undefined || hook.roomId !== roomId) throw notFound(NO_SUCH_WEBHOOK);
    if (hook.creatorId !== actor.id && role !== 'owner') throw forbidden("Only the webhook's creator or the room's owner can delete it.");
    await this.#store.deleteIncomingWebhook(hook.id);
  }

  /**
   * Posts `text` as the webhook's bot. An unknown secret (or a deleted webhook's) is not_found;
   * a bot that is no longer a member of the room is forbidden. Each webhook has its own bucket
   * of the send rate limit. Resolves once the message is durable.
   */
  async post(token: string, text: string, clientMsgId: string | null): Promise<{ message: MessageRecord; duplicate: boolean }> {
    const hook = await this.#store.findIncomingWebhookByToken(hashToken(token));
    if (hook === undefined) throw notFound(NO_SUCH_WEBHOOK);
    // A server administrator disabled the bot, or its owner (whose bots are refused with them): read with the webhook.
    if (hook.disabled === true) throw forbidden("The webhook's bot is disabled by a server administrator.", { reason: 'account_disabled' });
    try {
      await this.#access.requireMember(hook.roomId, hook.botId);
    } catch (error) {
      if (error instanceof AppError && (error.code === 'not_found' || error.code === 'forbidden')) {
        throw forbidden("The webhook's bot is no longer a member of its room: add it back, or delete the webhook.");
      }
      throw error;
    }
    const accepted = await this.#messages.submitSend(hook.botId, hook.roomId, text, clientMsgId, `hook:${hook.id}`);
    return accepted.result;
  }
}
