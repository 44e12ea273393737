/**
 * Races an attacker (or an unlucky client) can start, run many times against real servers: each
 * trial fires the two operations together with a little jitter, then checks guarantee 4 of
 * PROTOCOL.md. `nodes` gives the node that takes the REST call and the node that holds the
 * WebSocket: the same one, or two nodes of one deployment (a membership cached on the other node).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { api, registerUser, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

export interface RaceNodes {
  rest: TestServer;
  ws: TestServer;
  stop(): Promise<void>;
}

const TRIALS = 30;

/** Everything the server sent before this returns has been received (frames of one connection are ordered). */
async function settled(client: WsTestClient): Promise<void> {
  if (client.closeCode !== null) return;
  client.sendRaw(JSON.stringify({ type: 'ping' }));
  const pongs = client.frames.filter((f) => f.type === 'pong').length;
  const deadline = Date.now() + 5_000;
  while (client.frames.filter((f) => f.type === 'pong').length <= pongs && client.closeCode === null) {
    if (Date.now() > deadline) throw new Error('no pong');
    await sleep(2);
  }
}

export function racesSuite(label: string, start: () => Promise<RaceNodes>): void {
  describe(`races (${label})`, () => {
    let nodes: RaceNodes;
    let owner: TestUser;
    const open: WsTestClient[] = [];

    before(async () => {
      nodes = await start();
      owner = await registerUser(nodes.rest.url, 'rowner');
    });
    after(async () => {
      for (const c of open) c.close();
      await nodes.stop();
    });

    it(`regression: a leave racing a subscribe never leaves a live subscription (${TRIALS} trials)`, async () => {
      const watcher = await WsTestClient.connect(nodes.ws.wsUrl, { token: owner.token });
      open.push(watcher);
      const violations: string[] = [];
      for (let trial = 0; trial < TRIALS; trial++) {
        const member = await registerUser(nodes.rest.url, 'rleaver');
        const created = await api(nodes.rest.url, 'POST', '/api/v1/rooms', { token: owner.token, body: { name: `race ${trial}`, visibility: 'private' } });
        const roomId = created.body.room.id as string;
        assert.equal((await api(nodes.rest.url, 'POST', `/api/v1/rooms/${roomId}/members`, { token: owner.token, body: { username: member.username } })).status, 200);
        const client = await WsTestClient.connect(nodes.ws.wsUrl, { token: member.token });
        open.push(client);
        // Membership cached where the WebSocket is, as it would be for an active member.
        assert.equal((await client.request({ type: 'read', roomId, seq: 0 })).ok, true);

        // The leave takes a few store round trips more than the subscribe: the subscribe starts
        // up to a few milliseconds later, so that the two meet at every point of each other.
        const delay = (trial * 7) % 12;
        const [subscribed, left] = await Promise.all([
          sleep(delay).then(() => client.request({ type: 'subscribe', roomId })),
          api(nodes.rest.url, 'POST', `/api/v1/rooms/${roomId}/leave`, { token: member.token }),
        ]);
        assert.equal(left.status, 204);
        // Two messages after both settled; once the owner has them on the same node, so would
        // the leaver. (The owner subscribes only now: the race must find the room closed on the
        // node, as a quiet room is, so that opening it races the leave too.)
        assert.equal((await watcher.request({ type: 'subscribe', roomId })).ok, true);
        for (const body of ['after one', 'after two']) {
          assert.equal((await api(nodes.rest.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body } })).status, 201);
        }
        const deadline = Date.now() + 5_000;
        while (watcher.events(roomId).filter((f) => f.kind === 'message').length < 2) {
          if (Date.now() > deadline) throw new Error(`trial ${trial}: the owner did not get the two messages`);
          await sleep(2);
        }
        await settled(client);
        const got = client.events(roomId);
        const leaveSeq = got.find((f) => f.kind === 'member_left')?.seq as number | undefined;
        const after = got.filter((f) => f.kind === 'message');
        if (after.length > 0) violations.push(`trial ${trial}: subscribe ${subscribed.ok ? 'ok' : subscribed.error.code}, received ${after.map((f) => f.message.body).join(', ')} after leaving`);
        if (subscribed.ok && leaveSeq === undefined && subscribed.lastSeq >= 4) violations.push(`trial ${trial}: subscribed live at ${subscribed.lastSeq} past its own leave`);
        if (!subscribed.ok) assert.ok(['not_found', 'forbidden'].includes(subscribed.error.code), `trial ${trial}: ${JSON.stringify(subscribed.error)}`);
        client.close();
      }
      assert.deepEqual(violations, []);
    });

    it(`regression: a WebSocket racing its session's logout never outlives it (${TRIALS} trials)`, async () => {
      const roomId = (await api(nodes.rest.url, 'POST', '/api/v1/rooms', { token: owner.token, body: { name: 'logout race', visibility: 'public' } })).body.room.id as string;
      const user = await registerUser(nodes.rest.url, 'rlogout');
      assert.equal((await api(nodes.rest.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: user.token })).status, 200);
      const survivors: string[] = [];
      for (let trial = 0; trial < TRIALS; trial++) {
        const login = await api(nodes.rest.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password: 'correct horse battery' } });
        const token = login.body.token as string;
        const jitter = trial % 5;
        const [connected, loggedOut] = await Promise.all([
          sleep(trial % 2 === 0 ? 0 : jitter).then(() => WsTestClient.connect(nodes.ws.wsUrl, { token }).catch((error: { status?: number }) => error)),
          sleep(trial % 2 === 0 ? jitter : 0).then(() => api(nodes.rest.url, 'POST', '/api/v1/auth/logout', { token })),
        ]);
        assert.equal(loggedOut.status, 204);
        if (!(connected instanceof WsTestClient)) {
          assert.equal((connected as { status?: number }).status, 401, `trial ${trial}: refused otherwise than 401`);
          continue;
        }
        open.push(connected);
        // The logout has been answered: the connection must go (1008), however the two interleaved.
        connected.sendRaw(JSON.stringify({ id: 1, type: 'send', roomId, body: `sent after logout ${trial}` }));
        const code = await connected.closed(5_000).catch(() => null);
        if (code !== 1008) survivors.push(`trial ${trial}: still open 5 s after the logout (close ${code})`);
      }
      assert.deepEqual(survivors, []);
    });
  });
}
