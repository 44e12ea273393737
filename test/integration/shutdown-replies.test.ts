/**
 * A graceful shutdown in the middle of a stream of sends: every send the server stored was
 * answered before the 1012 close, and every send answered is stored. Sends the server had not
 * read when it stopped reading are neither (the client sends them again after reconnecting).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { api, createRoom, registerUser, startTestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const TRIALS = 8;

describe('shutdown with sends in flight', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it(`regression: a send read after shutdown began is committed and answered before the close (${TRIALS} trials)`, async () => {
    const problems: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'parley-shutdown-'));
      dirs.push(dir);
      const limits = { SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000, FRAME_RATE_PER_SEC: 100_000, FRAME_BURST: 100_000, DATA_DIR: dir };
      const server = await startTestServer(limits);
      const user = await registerUser(server.url, 'sender');
      const roomId = await createRoom(server.url, user);
      const client = await WsTestClient.connect(server.wsUrl, { token: user.token });
      // A steady stream of sends, one every few hundred microseconds, while the server stops.
      let sent = 0;
      const sending = (async () => {
        while (client.closeCode === null && sent < 2_000) {
          client.sendRaw(JSON.stringify({ id: sent + 1, type: 'send', roomId, body: `m${sent}`, clientMsgId: `c${sent}` }));
          sent++;
          if (sent % 5 === 0) await sleep(0);
        }
      })();
      // Once the stream is flowing (the first send answered), stop at a different point each trial.
      await client.waitFor((f) => f.type === 'reply' && f.ok === true, 20_000);
      await sleep(trial * 3);
      await server.parley.close();
      await sending;
      assert.equal(await client.closed(), 1012);
      const acked = new Set(client.frames.filter((f) => f.type === 'reply' && f.ok === true).map((f) => f.message.clientMsgId as string));

      const again = await startTestServer(limits);
      const stored: string[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await api(again.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=100${before === undefined ? '' : `&before=${before}`}`, { token: user.token });
        stored.push(...page.body.messages.map((m: { clientMsgId: string }) => m.clientMsgId));
        if (!page.body.hasMore) break;
        before = page.body.messages.at(-1).seq;
      }
      await again.stop();
      const unanswered = stored.filter((id) => !acked.has(id));
      const lost = [...acked].filter((id) => !stored.includes(id));
      if (unanswered.length > 0 || lost.length > 0) problems.push(`trial ${trial}: ${sent} sent, ${acked.size} answered, ${stored.length} stored; stored unanswered ${unanswered.slice(0, 5)}; answered lost ${lost.slice(0, 5)}`);
      assert.ok(acked.size > 0, `trial ${trial}: no send was answered before the shutdown`);
    }
    assert.deepEqual(problems, []);
  });
});
