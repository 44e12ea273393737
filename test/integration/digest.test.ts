/**
 * E-mail digests of missed mentions, sent through a real SMTP server on loopback: the content,
 * once only, never when turned off or while the user is online, and retried when the SMTP
 * server refuses. On SQLite and on PostgreSQL (the candidates query differs by dialect).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../support/smtp.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function digestSuite(name: string, config: () => Promise<Partial<Config>>): void {
  describe(`e-mail digests (${name})`, () => {
    let smtp: SmtpHandle;
    let server: TestServer;
    let alice: TestUser;
    let room: string;
    const mailsTo = (address: string): ReceivedMail[] => smtp.mails.filter((m) => m.to.includes(address));
    const waitForMail = async (address: string, timeoutMs = 20_000): Promise<ReceivedMail> => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [mail] = mailsTo(address);
        if (mail !== undefined) return mail;
        await sleep(50);
      }
      throw new Error(`no mail to ${address}`);
    };
    /** A member of the room with an address, digests as asked. */
    const member = async (prefix: string, digest = true): Promise<TestUser & { email: string }> => {
      const user = await registerUser(server.url, prefix);
      const email = `${user.username}@example.com`;
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: user.token })).status, 200);
      assert.equal((await api(server.url, 'PUT', '/api/v1/me/email', { token: user.token, body: { email } })).status, 200);
      if (!digest) assert.equal((await api(server.url, 'PUT', '/api/v1/me/notification-settings', { token: user.token, body: { emailDigest: false } })).status, 200);
      return { ...user, email };
    };
    const mention = async (body: string) => {
      const res = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body } });
      assert.equal(res.status, 201);
      return res.body.message.seq as number;
    };

    before(async () => {
      smtp = await startSmtp();
      server = await startTestServer({
        ...(await config()),
        SMTP_URL: smtp.url,
        SMTP_FROM: 'Parley <digest@chat.example.com>',
        PUBLIC_URL: 'https://chat.example.com',
        NOTIFY_DIGEST_AFTER_MIN: 0,
        NOTIFY_DIGEST_INTERVAL_MS: 100,
        JOBS_POLL_MS: 20,
      });
      alice = await registerUser(server.url, 'alice');
      room = await createRoom(server.url, alice, 'public', 'Release <planning>');
    });
    after(async () => {
      await server?.stop();
      await smtp?.stop();
    });

    it('mails an offline user one digest of their mentions', async () => {
      const bob = await member('bob');
      const first = await mention(`@${bob.username} can you review the *release* notes?`);
      const mail = await waitForMail(bob.email);
      assert.equal(mail.from, 'digest@chat.example.com');
      assert.match(mail.raw, /^Subject: You were mentioned on Parley\r?$/m);
      assert.match(mail.raw, /Content-Type: text\/plain/i);
      assert.ok(mail.text.includes('Release <planning>'), 'the room');
      assert.ok(mail.text.includes(`(@${alice.username})`), 'who mentioned them, by username');
      assert.ok(mail.text.includes('can you review the *release* notes?'), 'the message');
      assert.ok(mail.text.includes(`https://chat.example.com/#/rooms/${room}/${first}`), 'a link to it');
      // Many sweeps later: still one mail.
      await sleep(1_000);
      assert.equal(mailsTo(bob.email).length, 1);
      // Mentioned again: a new digest, of the new mention only.
      const second = await mention(`@${bob.username} one more`);
      const deadline = Date.now() + 20_000;
      while (mailsTo(bob.email).length < 2 && Date.now() < deadline) await sleep(50);
      const latest = mailsTo(bob.email)[1] as ReceivedMail;
      assert.ok(latest.text.includes(`/${room}/${second}`) && !latest.text.split(/\s+/).includes(`https://chat.example.com/#/rooms/${room}/${first}`), 'only what was not mailed');
    });

    it('sends nothing to a user who turned digests off, or who has read their mentions', async () => {
      const carol = await member('carol', false);
      const dave = await member('dave');
      await mention(`@${carol.username} and @${dave.username}: lunch?`);
      await waitForMail(dave.email);
      await sleep(800);
      assert.equal(mailsTo(carol.email).length, 0);
    });

    it('waits while the user is online, and mails once they are gone', async () => {
      const erin = await member('erin');
      const ws = await WsTestClient.connect(server.wsUrl, { token: erin.token });
      await mention(`@${erin.username} are you there?`);
      await sleep(1_200);
      assert.equal(mailsTo(erin.email).length, 0, 'online: no mail');
      ws.close();
      await waitForMail(erin.email);
    });

    it('retries when the SMTP server refuses, and sends once in the end', async () => {
      const frank = await member('frank');
      smtp.refuse.set(frank.email, 1);
      await mention(`@${frank.username} deploy is blocked`);
      await waitForMail(frank.email, 40_000);
      assert.equal(smtp.refused.get(frank.email), 1, 'the first attempt was refused');
      await sleep(500);
      assert.equal(mailsTo(frank.email).length, 1);
    });
  });
}

digestSuite('embedded SQLite', async () => ({}));
if (await requirePostgres('e-mail digests over PostgreSQL')) {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
  });
  digestSuite('PostgreSQL', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url };
  });
}
