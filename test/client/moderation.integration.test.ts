/**
 * The SDK's moderation methods against a real server: every call typed end to end, refusals as
 * ParleyErrors with their reason, and a banned member's client told at once (the event, then
 * room_removed, then nothing more of the room).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ParleyClient, ParleyError, RestClient, type StreamEvent } from '../../client/index.js';
import { createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refusedWith(reason: string, call: Promise<unknown>): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ParleyError);
    assert.equal(error.code, 'forbidden');
    assert.equal(error.details?.reason, reason);
    return true;
  });
}

describe('client SDK: moderation', () => {
  let server: TestServer;
  const clients: ParleyClient[] = [];
  after(async () => {
    for (const c of clients) await c.close();
    await server?.stop();
  });

  it('settings, roles, mutes, bans, kicks, restrictions and the audit log, typed; a banned client is told at once', async () => {
    server = await startTestServer({ SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    const [owner, admin, member] = [await registerUser(server.url, 'sdkmo'), await registerUser(server.url, 'sdkma'), await registerUser(server.url, 'sdkmm')];
    const roomId = await createRoom(server.url, owner, 'public', 'sdk moderation');
    const rest = (token: string) => new RestClient({ baseUrl: server.url, token });
    const [o, a, m] = [rest(owner.token), rest(admin.token), rest(member.token)];
    await a.joinRoom(roomId);
    await m.joinRoom(roomId);

    await o.setMemberRole(roomId, admin.id, 'admin');
    assert.equal((await m.listMembers(roomId)).find((x) => x.user.id === admin.id)?.role, 'admin');
    await refusedWith('role', m.updateRoom(roomId, { topic: 'mine' }));
    await refusedWith('rank', a.kickMember(roomId, owner.id));
    const renamed = await a.updateRoom(roomId, { name: 'Renamed by the SDK', topic: 'Typed' });
    assert.equal(renamed.topic, 'Typed');
    assert.equal((await a.archiveRoom(roomId)).archived, true);
    await refusedWith('archived', m.postMessage(roomId, 'hello'));
    assert.equal((await a.unarchiveRoom(roomId)).archived, undefined);

    await a.muteMember(roomId, member.id, { durationS: 600, reason: 'calm down' });
    await refusedWith('muted', m.postMessage(roomId, 'hello'));
    const [mute] = await a.listRestrictions(roomId);
    assert.equal(mute?.kind, 'mute');
    assert.equal(mute?.reason, 'calm down');
    await a.unmuteMember(roomId, member.id);
    await a.kickMember(roomId, member.id, 'out');
    await m.joinRoom(roomId);

    const client = new ParleyClient({ baseUrl: server.url, token: member.token, WebSocket, backoff: { initialMs: 50, maxMs: 500 } });
    clients.push(client);
    const seen: StreamEvent[] = [];
    const removed: string[] = [];
    client.on('event', (e) => seen.push(e));
    client.on('room_removed', (e) => removed.push(e.roomId));
    await client.connect();
    await client.subscribe(roomId);
    await a.banUser(roomId, member.id, { reason: 'enough' });
    await until(() => removed.includes(roomId), 'room_removed');
    const ban = seen.find((e) => e.kind === 'member_banned');
    assert.equal(ban?.member?.id, member.id);
    assert.equal(ban?.reason, 'enough');
    assert.equal(ban?.until, null);
    await o.postMessage(roomId, 'after the ban');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.at(-1)?.kind, 'member_banned', 'nothing after the ban');
    await refusedWith('banned', m.joinRoom(roomId));
    await a.unbanUser(roomId, member.id);
    await m.joinRoom(roomId);

    const first = await o.auditLog(roomId, { limit: 4 });
    assert.equal(first.entries.length, 4);
    assert.equal(first.entries[0]?.action, 'member_unbanned');
    assert.ok(first.nextBefore !== null);
    const rest2 = await o.auditLog(roomId, { before: first.nextBefore });
    assert.deepEqual(
      [...first.entries, ...rest2.entries].map((e) => e.action).reverse(),
      ['member_role_changed', 'room_updated', 'room_updated', 'room_updated', 'member_muted', 'member_unmuted', 'member_kicked', 'member_banned', 'member_unbanned'],
    );
    assert.equal(rest2.nextBefore, null);
  });
});
