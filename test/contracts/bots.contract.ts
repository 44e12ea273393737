/**
 * The Store's bots and incoming webhooks, against each adapter: bot accounts with an owner and a
 * per-owner cap that concurrent creations cannot pass, token replacement and deactivation in
 * one transaction each, webhooks found by the hash of their secret, and `bot: true` on the
 * author of every message a bot wrote, whichever path reads it.
 */
import { searchIndexed } from '../support/search-index.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import { searchText } from '../../src/domain/search.js';
import type { IncomingWebhookRecord, MessageRecord, SessionRecord, UserRecord } from '../../src/domain/types.js';
import { AppError } from '../../src/errors.js';
import type { AppendOutcome, Store } from '../../src/ports.js';
import type { StoreFixture } from './store.contract.js';

const tag = (): string => newId().slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x');

export function botsContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract, bots and incoming webhooks: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;

    before(async () => {
      fx = await open();
      store = fx.store;
      await store.migrate();
    });
    after(async () => fx.cleanup());

    async function person(): Promise<UserRecord> {
      const u: UserRecord = { id: newId(), username: `p_${tag()}`, displayName: 'Person', passwordHash: 'scrypt$x', createdAt: Date.now() };
      await store.createUser(u);
      return u;
    }
    const botOf = (owner: UserRecord, username = `b_${tag()}`, createdAt = Date.now()): UserRecord => ({
      id: newId(),
      username,
      displayName: username,
      passwordHash: '!bot',
      createdAt,
      botOwnerId: owner.id,
    });
    const session = (userId: string): SessionRecord => ({ tokenHash: newId(), userId, createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
    const room = async (owner: UserRecord) => (await store.createRoom({ id: newId(), name: `r ${tag()}`, visibility: 'private', topic: '', createdAt: Date.now() }, owner.id)).room;
    const appended = (outcome: AppendOutcome | undefined) => {
      assert.equal(outcome?.status, 'appended');
      return (outcome as Extract<AppendOutcome, { status: 'appended' }>).event;
    };

    it('creates a bot with its first session; its record names its owner, a person\'s does not', async () => {
      const owner = await person();
      const bot = botOf(owner);
      const first = session(bot.id);
      assert.equal(await store.createBot(bot, { displayNameFolded: bot.username }, 5, first), true);
      assert.deepEqual(await store.findUserById(bot.id), bot);
      assert.deepEqual(await store.findSession(first.tokenHash), first);
      assert.deepEqual(await store.findSessionUser(first.tokenHash), { session: first, user: bot });
      assert.equal('botOwnerId' in ((await store.findUserById(owner.id)) as UserRecord), false);
      const tokenless = botOf(owner);
      assert.equal(await store.createBot(tokenless, { displayNameFolded: tokenless.username }, 5, null), true);
      assert.deepEqual(
        (await store.listBots(owner.id)).map((b) => b.id),
        [bot.id, tokenless.id],
      );
    });

    it('refuses a bot past its owner\'s cap, writing nothing; names clash as people\'s do', async () => {
      const owner = await person();
      for (let i = 0; i < 2; i++) {
        const b = botOf(owner);
        assert.equal(await store.createBot(b, { displayNameFolded: b.username }, 2, null), true);
      }
      const third = botOf(owner);
      const s = session(third.id);
      assert.equal(await store.createBot(third, { displayNameFolded: third.username }, 2, s), false);
      assert.equal(await store.findUserById(third.id), undefined);
      assert.equal(await store.findSession(s.tokenHash), undefined);
      const other = await person();
      const taken = botOf(other, owner.username);
      await assert.rejects(store.createBot(taken, { displayNameFolded: 'x' }, 5, null), (e: unknown) => e instanceof AppError && e.code === 'conflict' && e.details?.field === 'username');
      const lookalike = { ...botOf(other), displayName: owner.username.toUpperCase() };
      await assert.rejects(
        store.createBot(lookalike, { displayNameFolded: owner.username }, 5, null),
        (e: unknown) => e instanceof AppError && e.code === 'conflict' && e.details?.field === 'displayName',
      );
    });

    it('concurrent creations for one owner, from several instances, never pass the cap together', async () => {
      const owner = await person();
      const peers = fx.another === undefined ? [store, store] : [store, await fx.another()];
      try {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => {
            const b = botOf(owner);
            return (peers[i % 2] as Store).createBot(b, { displayNameFolded: b.username }, 3, null);
          }),
        );
        assert.equal(results.filter(Boolean).length, 3);
        assert.equal((await store.listBots(owner.id)).length, 3);
      } finally {
        if (peers[1] !== store) await peers[1]?.close();
      }
    });

    it('replaces every session of a user at once, answering the hashes it deleted', async () => {
      const owner = await person();
      const bot = botOf(owner);
      const first = session(bot.id);
      await store.createBot(bot, { displayNameFolded: bot.username }, 5, first);
      const second = session(bot.id);
      await store.createSession(second);
      const third = session(bot.id);
      assert.deepEqual((await store.replaceSessions(bot.id, third)).sort(), [first.tokenHash, second.tokenHash].sort());
      assert.equal(await store.findSession(first.tokenHash), undefined);
      assert.equal(await store.findSession(second.tokenHash), undefined);
      assert.deepEqual(await store.findSession(third.tokenHash), third);
      assert.deepEqual(await store.replaceSessions(bot.id, session(bot.id)), [third.tokenHash]);
    });

    it('deactivates a bot: sessions and webhooks gone, out of its owner\'s list, its rooms answered; repeatable', async () => {
      const owner = await person();
      const bot = botOf(owner);
      const s = session(bot.id);
      await store.createBot(bot, { displayNameFolded: bot.username }, 5, s);
      const r = await room(owner);
      appended((await store.append([{ kind: 'member_joined', roomId: r.id, userId: bot.id, role: 'member', addedBy: owner.id, at: Date.now() }]))[0]);
      const hook: IncomingWebhookRecord = { id: newId(), roomId: r.id, botId: bot.id, creatorId: owner.id, name: 'CI', tokenHash: newId(), createdAt: Date.now() };
      await store.createIncomingWebhook(hook);
      const at = Date.now();
      assert.deepEqual(await store.deactivateBot(bot.id, at), { tokenHashes: [s.tokenHash], roomIds: [r.id] });
      assert.equal((await store.findUserById(bot.id))?.deactivatedAt, at);
      assert.equal(await store.findSession(s.tokenHash), undefined);
      assert.equal(await store.findIncomingWebhook(hook.id), undefined);
      assert.deepEqual(await store.listBots(owner.id), []);
      // Still a member until it leaves through the stream; a second call keeps the first time.
      assert.deepEqual(await store.deactivateBot(bot.id, at + 1), { tokenHashes: [], roomIds: [r.id] });
      assert.equal((await store.findUserById(bot.id))?.deactivatedAt, at);
      appended((await store.append([{ kind: 'member_left', roomId: r.id, userId: bot.id, at: Date.now() }]))[0]);
      assert.deepEqual(await store.deactivateBot(bot.id, at + 2), { tokenHashes: [], roomIds: [] });
      // A person is never deactivated by it.
      await store.deactivateBot(owner.id, at);
      assert.equal('deactivatedAt' in ((await store.findUserById(owner.id)) as UserRecord), false);
    });

    it('keeps incoming webhooks: found by id and by the hash of their secret, listed by room, deleted once', async () => {
      const owner = await person();
      const bot = botOf(owner);
      await store.createBot(bot, { displayNameFolded: bot.username }, 5, null);
      const r = await room(owner);
      const hooks: IncomingWebhookRecord[] = [0, 1].map((i) => ({ id: newId(), roomId: r.id, botId: bot.id, creatorId: owner.id, name: `hook ${i}`, tokenHash: newId(), createdAt: Date.now() + i }));
      for (const h of hooks) await store.createIncomingWebhook(h);
      const author = { id: bot.id, username: bot.username, displayName: bot.displayName, bot: true as const };
      const first = hooks[0] as IncomingWebhookRecord;
      assert.deepEqual(await store.findIncomingWebhook(first.id), { ...first, bot: author });
      assert.deepEqual(await store.findIncomingWebhookByToken(first.tokenHash), { ...first, bot: author });
      assert.equal(await store.findIncomingWebhookByToken(newId()), undefined);
      assert.deepEqual(await store.listIncomingWebhooks(r.id), hooks.map((h) => ({ ...h, bot: author })));
      await assert.rejects(store.createIncomingWebhook({ ...first, id: newId() }), 'a secret hash is unique');
      assert.equal(await store.deleteIncomingWebhook(first.id), true);
      assert.equal(await store.deleteIncomingWebhook(first.id), false);
      assert.equal(await store.findIncomingWebhookByToken(first.tokenHash), undefined);
      assert.deepEqual((await store.listIncomingWebhooks(r.id)).map((h) => h.id), [hooks[1]?.id]);
    });

    it('a bot\'s messages carry bot: true on their author, on every path that reads them; a person\'s do not', async () => {
      const owner = await person();
      const bot = botOf(owner);
      await store.createBot(bot, { displayNameFolded: bot.username }, 5, null);
      const r = await room(owner);
      const word = `zb${tag().replace(/[^a-z]/g, 'q')}`;
      const [joined, sent, said] = await store.append([
        { kind: 'member_joined', roomId: r.id, userId: bot.id, role: 'member', addedBy: owner.id, at: Date.now() },
        { kind: 'message', roomId: r.id, userId: bot.id, id: newId(), body: `${word} from the bot`, clientMsgId: 'b-1', at: Date.now() },
        { kind: 'message', roomId: r.id, userId: owner.id, id: newId(), body: `${word} from a person`, clientMsgId: null, at: Date.now() },
      ]);
      const botAuthor = { id: bot.id, username: bot.username, displayName: bot.displayName, bot: true };
      assert.deepEqual(appended(joined).user, botAuthor);
      const message = appended(sent).message as MessageRecord;
      assert.deepEqual(message.author, botAuthor);
      assert.equal('bot' in (appended(said).message as MessageRecord).author, false);
      const events = await store.readEvents(r.id, 1, 10);
      assert.deepEqual(events[0]?.user, botAuthor);
      assert.deepEqual(events[1]?.message, message);
      assert.deepEqual((await store.readHistory({ roomId: r.id, limit: 10 })).messages[1], message);
      assert.deepEqual(await store.findMessage(r.id, message.seq), message);
      const duplicate = (await store.append([{ kind: 'message', roomId: r.id, userId: bot.id, id: newId(), body: 'again', clientMsgId: 'b-1', at: Date.now() }]))[0];
      assert.deepEqual(duplicate, { status: 'duplicate', message });
      const hits = await searchIndexed(store, { userId: owner.id, terms: [searchText(word)], limit: 10, maxCandidates: 100, deadlineAt: Date.now() + 10_000 });
      assert.deepEqual(
        hits.hits.map((h) => h.message.author.bot ?? false),
        [false, true],
      );
      const members = await store.listMembers(r.id);
      assert.equal(members.find((m) => m.user.id === bot.id)?.user.botOwnerId, owner.id);
    });
  });
}
