/**
 * Bots: user accounts a person owns, for their programs. A bot uses the REST and WebSocket API
 * as people do, with a token its owner is shown once, and acts only in the rooms a member added
 * it to (src/domain/actor.ts says what it cannot do).
 *
 * Tokens are sessions that do not expire (only their hashes are stored): authenticating one,
 * and closing its WebSockets when it is revoked, is the path every session takes. A bot has no
 * password: its hash is a value no password verifies, and login refuses it as a wrong password.
 */
import { randomBytes } from 'node:crypto';
import { AppError, forbidden, notFound } from '../errors.js';
import type { Store } from '../ports.js';
import { foldName } from '../protocol/text.js';
import type { Accounts } from './accounts.js';
import { type Actor, refuseBots } from './actor.js';
import { hashToken, newId, newToken } from './ids.js';
import { DELETED_USERNAME_PREFIX, nameConflictError } from './name-conflicts.js';
import type { StreamWriter } from './stream-writer.js';
import type { SessionRecord, UserRecord } from './types.js';

/** BOTS_PER_USER_MAX's default. */
export const DEFAULT_BOTS_PER_USER = 20;

/** A bot token's expiry: the last millisecond of year 9999 (a date every formatter can show), so never. */
export const BOT_TOKEN_EXPIRES_AT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Not the `scrypt$…` format: verifyPassword answers false for every password. */
const NO_PASSWORD = '!bot';

/** Tries at a free username for a webhook's bot (a random suffix each time) before giving up. */
const USERNAME_TRIES = 3;

export interface BotsOptions {
  /** Active bots one person may own (BOTS_PER_USER_MAX); 0: nobody may create bots. */
  maxPerOwner: number;
}

export class Bots {
  readonly #store: Store;
  readonly #accounts: Accounts;
  readonly #writer: StreamWriter;
  readonly #options: BotsOptions;

  constructor(store: Store, accounts: Accounts, writer: StreamWriter, options: BotsOptions) {
    this.#store = store;
    this.#accounts = accounts;
    this.#writer = writer;
    this.#options = options;
  }

  /**
   * A new bot of `owner` and its first token. Its names follow the rules of people's (unique
   * username, no name reading as another user's: `conflict` naming the field), and the owner may
   * have at most `maxPerOwner` active bots (`forbidden`).
   */
  async create(owner: Actor, input: { username: string; displayName?: string | undefined }): Promise<{ bot: UserRecord; token: string }> {
    refuseBots(owner, 'create bots');
    const username = input.username.toLowerCase();
    const displayName = input.displayName ?? input.username;
    const displayNameFolded = foldName(displayName);
    // A read first, so that a refused name costs no transaction; createBot checks again, atomically.
    const clash = await this.#store.findNameConflict(username, displayNameFolded);
    if (clash !== null) throw nameConflictError(clash);
    const bot = botRecord(owner.id, username, displayName);
    const token = newToken();
    if (!(await this.#store.createBot(bot, { displayNameFolded }, this.#options.maxPerOwner, tokenSession(bot.id, token)))) throw this.#overCap();
    return { bot, token };
  }

  /**
   * A bot for an incoming webhook of `owner`, named after it: `name` is its display name, and
   * its username is made from the name with a random suffix. It has no token (its owner may make
   * one). A name that reads as another user's username is `conflict` on `field`.
   */
  async createForWebhook(owner: Actor, name: string, field: string): Promise<UserRecord> {
    refuseBots(owner, 'create webhooks');
    const displayNameFolded = foldName(name);
    for (let attempt = 1; ; attempt++) {
      const bot = botRecord(owner.id, webhookUsername(name), name);
      try {
        if (!(await this.#store.createBot(bot, { displayNameFolded }, this.#options.maxPerOwner, null))) throw this.#overCap();
        return bot;
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'conflict') throw error;
        // The display name reads as someone's username: another name is the caller's to choose.
        if (error.details?.field === 'displayName') throw new AppError('conflict', error.message.replace('display name', 'name'), { ...error.details, field });
        // The random username was taken (or reads as someone's display name): another suffix.
        if (attempt >= USERNAME_TRIES) throw error;
      }
    }
  }

  /** The owner's active bots, oldest first. */
  list(owner: Actor): Promise<UserRecord[]> {
    return this.#store.listBots(owner.id);
  }

  /** The owner's active bot, or not_found (a bot of someone else does not exist to them). */
  async owned(owner: Actor, botId: string): Promise<UserRecord> {
    const bot = await this.#store.findUserById(botId);
    if (bot === undefined || bot.botOwnerId !== owner.id || (bot.deactivatedAt ?? null) !== null) throw notFound('No such bot.');
    return bot;
  }

  /**
   * A new token for the bot; every earlier one stops working at once, on every node: REST
   * refuses them and their WebSockets are closed with 1008.
   */
  async rotateToken(owner: Actor, botId: string): Promise<{ bot: UserRecord; token: string }> {
    const bot = await this.owned(owner, botId);
    const token = newToken();
    const old = await this.#store.replaceSessions(bot.id, tokenSession(bot.id, token));
    await this.#accounts.revoked(bot.id, old);
    return { bot, token };
  }

  /**
   * Deletes (deactivates) the bot: its tokens are revoked as a rotation revokes them, its
   * incoming webhooks are deleted, and it leaves every room it is in (a member_left event in
   * each). Its messages stay, still naming it, and its username stays taken. Deleting a bot
   * deleted already changes nothing but leaves the rooms it may still be in.
   */
  async delete(owner: Actor, botId: string): Promise<void> {
    const bot = await this.#store.findUserById(botId);
    if (bot === undefined || bot.botOwnerId !== owner.id) throw notFound('No such bot.');
    const { tokenHashes, roomIds } = await this.#store.deactivateBot(bot.id, Date.now());
    await this.#accounts.revoked(bot.id, tokenHashes);
    await Promise.all(roomIds.map((roomId) => this.#writer.append({ kind: 'member_left', roomId, userId: bot.id, at: Date.now() })));
  }

  #overCap(): AppError {
    const max = this.#options.maxPerOwner;
    return forbidden(max === 0 ? 'This server does not let users create bots.' : `You have ${max} bots already, the most one may have; delete one first.`);
  }
}

function botRecord(ownerId: string, username: string, displayName: string): UserRecord {
  return { id: newId(), username, displayName, passwordHash: NO_PASSWORD, createdAt: Date.now(), botOwnerId: ownerId };
}

function tokenSession(botId: string, token: string): SessionRecord {
  return { tokenHash: hashToken(token), userId: botId, createdAt: Date.now(), expiresAt: BOT_TOKEN_EXPIRES_AT };
}

/**
 * A username for a webhook's bot: the name's letters and digits (accents dropped) joined by
 * dashes, at most 20 characters, then a dash and 6 random ones: "CI alerts" → "ci-alerts-k3x9q2".
 */
export function webhookUsername(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 20)
    .replace(/^-+|-+$/g, '');
  const suffix = [...randomBytes(6)].map((b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('');
  const username = `${slug === '' ? 'webhook' : slug}-${suffix}`;
  // "Deleted items" would read as a deleted account's name, a prefix nobody registers (name-conflicts.ts).
  return username.startsWith(DELETED_USERNAME_PREFIX) ? `webhook-${username.slice(DELETED_USERNAME_PREFIX.length)}` : username;
}
