/** Accounts and sessions: registration, login, token authentication, logout. */
import { AppError, forbidden, unauthorized } from '../errors.js';
import type { Store } from '../ports.js';
import { foldName } from '../protocol/text.js';
import type { CacheAside } from './cache-aside.js';
import { isBot, isDisabled } from './actor.js';
import { hashToken, newId, newToken } from './ids.js';
import { nameConflictError } from './name-conflicts.js';
import { decoyHash, hashPassword, verifyPassword } from './password.js';
import type { Publisher } from './publisher.js';
import type { ServerRole, UserRecord } from './types.js';

export interface AccountsOptions {
  scryptCost: number;
  sessionTtlMs: number;
  /**
   * Sessions cached in a cache shared by every node (Redis), so authenticating a request costs
   * no database query. Logout deletes the entry there before it answers, and `onRevoked` tells
   * the other nodes, so no node keeps accepting the token.
   */
  sessionCache?: { cache: CacheAside<CachedSession>; ttlMs: number; onRevoked(keys: string[]): void };
}

/** What the session cache holds: the user without their password hash, and the expiry. */
export interface CachedSession {
  user: Omit<UserRecord, 'passwordHash'>;
  expiresAt: number;
}

export const sessionCacheKey = (tokenHash: string): string => `session:${tokenHash}`;

export interface Authenticated {
  user: UserRecord;
  tokenHash: string;
  /** When the session expires (epoch ms): a WebSocket is closed then. */
  expiresAt: number;
}

export class Accounts {
  readonly #store: Store;
  readonly #publisher: Publisher;
  readonly #options: AccountsOptions;
  #decoy: Promise<string> | null = null;

  constructor(store: Store, publisher: Publisher, options: AccountsOptions) {
    this.#store = store;
    this.#publisher = publisher;
    this.#options = options;
  }

  /**
   * Creates an account, unless one user could pass for another: the username must be free and
   * must not be what another user's display name reads as, and the display name must not read
   * as another user's username (names compared folded: foldName). Answers `conflict` naming the
   * field (details.field) otherwise.
   */
  async register(input: { username: string; password: string; displayName?: string | undefined }): Promise<{ user: UserRecord; token: string }> {
    // Named one by one: nothing of a registration's input but these reaches the account.
    const user = await this.createAccount({ username: input.username, password: input.password, displayName: input.displayName });
    return { user, token: await this.#startSession(user.id) };
  }

  /**
   * Creates the account as `register` does, without a session (a server administrator creates
   * it for someone); with `serverRole`, the account and its role in one transaction.
   */
  async createAccount(input: { username: string; password: string; displayName?: string | undefined; serverRole?: ServerRole | undefined }): Promise<UserRecord> {
    const username = input.username.toLowerCase();
    const displayName = input.displayName ?? input.username;
    const displayNameFolded = foldName(displayName);
    // Before the slow hash, so a refused name costs no hashing; createUser checks again, atomically.
    const clash = await this.#store.findNameConflict(username, displayNameFolded);
    if (clash !== null) throw nameConflictError(clash);
    const user: UserRecord = {
      id: newId(),
      username,
      displayName,
      passwordHash: await hashPassword(input.password, this.#options.scryptCost),
      createdAt: Date.now(),
    };
    // Still rejects with conflict if a concurrent register won.
    await this.#store.createUser(user, { displayNameFolded, ...(input.serverRole === undefined ? {} : { serverRole: input.serverRole }) });
    return user;
  }

  async login(input: { username: string; password: string }): Promise<{ user: UserRecord; token: string }> {
    const user = await this.#store.findUserByUsername(input.username.toLowerCase());
    // A bot has no password (its hash verifies none): refused as a wrong password is, as slowly.
    if (user === undefined || isBot(user)) {
      this.#decoy ??= decoyHash(this.#options.scryptCost);
      await verifyPassword(input.password, await this.#decoy);
      throw new AppError('unauthorized', 'Wrong username or password.');
    }
    if (!(await verifyPassword(input.password, user.passwordHash))) throw new AppError('unauthorized', 'Wrong username or password.');
    // Said only to whoever knows the password: a disabled account is no secret from its owner.
    if (isDisabled(user)) throw forbidden('This account is disabled: ask a server administrator.', { reason: 'account_disabled' });
    return { user, token: await this.#startSession(user.id) };
  }

  /** The user behind a token, or unauthorized. */
  async authenticate(token: string | undefined): Promise<Authenticated> {
    if (token === undefined || token === '' || token.length > 256) throw unauthorized();
    const tokenHash = hashToken(token);
    const load = async (): Promise<CachedSession | undefined> => {
      const found = await this.#store.findSessionUser(tokenHash);
      if (found === undefined) return undefined;
      const { passwordHash: _, ...rest } = found.user;
      return { user: rest, expiresAt: found.session.expiresAt };
    };
    const cached = this.#options.sessionCache;
    const found = cached === undefined ? await load() : await cached.cache.get(sessionCacheKey(tokenHash), load, cached.ttlMs);
    if (found === undefined || found.expiresAt <= Date.now()) throw unauthorized('The session is invalid or has expired.');
    // Disabling deletes the sessions; one a login raced in after it is refused here.
    if (isDisabled(found.user)) throw unauthorized('The account is disabled.');
    // Authenticated callers never see the password hash; it is not kept with the session.
    return { user: { ...found.user, passwordHash: '' }, tokenHash, expiresAt: found.expiresAt };
  }

  /** Whether the session exists and has not expired, asked of the store itself (no cache). */
  async sessionActive(tokenHash: string): Promise<boolean> {
    const found = await this.#store.findSessionUser(tokenHash);
    return found !== undefined && found.session.expiresAt > Date.now() && !isDisabled(found.user);
  }

  /** Revokes the session now: REST refuses it at once and its WebSockets are closed with 1008. */
  async logout(auth: Authenticated): Promise<void> {
    await this.#store.deleteSession(auth.tokenHash);
    await this.revoked(auth.user.id, [auth.tokenHash]);
  }

  /**
   * After sessions were deleted from the store: forgets them in the shared cache (every node
   * then asks the store, which refuses them) and closes their WebSockets with 1008 on every node.
   */
  async revoked(userId: string, tokenHashes: readonly string[]): Promise<void> {
    if (tokenHashes.length === 0) return;
    await this.forget(tokenHashes);
    for (const tokenHash of tokenHashes) this.#publisher.sessionRevoked(userId, tokenHash);
  }

  /**
   * Forgets sessions in the shared cache (every node then asks the store), without ending them:
   * after a change to what the cached user says, such as a bot's owner enabled again.
   */
  async forget(tokenHashes: readonly string[]): Promise<void> {
    const cached = this.#options.sessionCache;
    if (cached === undefined || tokenHashes.length === 0) return;
    const keys = tokenHashes.map(sessionCacheKey);
    await cached.cache.invalidate(keys);
    cached.onRevoked(keys);
  }

  async #startSession(userId: string): Promise<string> {
    const token = newToken();
    const now = Date.now();
    await this.#store.createSession({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: now + this.#options.sessionTtlMs });
    return token;
  }
}
