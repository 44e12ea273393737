/**
 * `parley backup` and `parley restore`, run as real processes against a node taking traffic:
 * the restored node serves every message acknowledged before the backup started, with its seq;
 * each room's stream in the copy is a prefix of the acknowledged one (no holes); sessions,
 * files and signed links made before still work; a restore refuses a node still running, data
 * in place without --force, and a backup altered after it was made.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { fetchFile, upload } from '../support/files.js';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, startTestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

function parley(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Acked {
  roomId: string;
  seq: number;
  body: string;
  at: number;
}

/** Every message of a room, oldest first, paged through REST. */
async function history(url: string, token: string, roomId: string): Promise<{ seq: number; body: string }[]> {
  const all: { seq: number; body: string }[] = [];
  let after = 0;
  for (;;) {
    const page = await api(url, 'GET', `/api/v1/rooms/${roomId}/messages?after=${after}&limit=100`, { token });
    assert.equal(page.status, 200);
    const messages = page.body.messages as Json[];
    for (const m of messages) all.push({ seq: m.seq as number, body: m.body as string });
    if (page.body.hasMore !== true) return all;
    after = messages[messages.length - 1]?.seq as number;
  }
}

describe('backup and restore of the embedded store', () => {
  it('a backup taken under traffic restores every acknowledged message, the sessions, files and signed links', async () => {
    const live = mkdtempSync(path.join(tmpdir(), 'parley-backup-live-'));
    const restored = mkdtempSync(path.join(tmpdir(), 'parley-backup-restored-'));
    const backups = mkdtempSync(path.join(tmpdir(), 'parley-backups-'));
    const target = path.join(backups, 'nightly');
    try {
      // Sends unthrottled, and frames too: the traffic is one user's.
      const server = await startTestServer({ DATA_DIR: live, SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000, FRAME_RATE_PER_SEC: 100_000 });
      const alice = await registerUser(server.url, 'balice');
      const rooms = [await createRoom(server.url, alice, 'private', 'one'), await createRoom(server.url, alice, 'private', 'two'), await createRoom(server.url, alice, 'public', 'three')];
      const file = await upload(server, alice, rooms[0] as string, 'notes.txt', Buffer.from('kept across a restore\n'));
      assert.equal(file.status, 201, JSON.stringify(file.body));
      const fileId = file.body.upload.id;
      const withFile = await api(server.url, 'POST', `/api/v1/rooms/${rooms[0]}/messages`, { token: alice.token, body: { body: 'a file', attachments: [fileId] } });
      assert.equal(withFile.status, 201, JSON.stringify(withFile.body));
      const link = await api(server.url, 'GET', `/api/v1/files/${fileId}/link`, { token: alice.token });
      assert.equal(link.status, 200);

      // Traffic: three senders, one per room, each with four sends in flight, until told to stop.
      const acked: Acked[] = [{ roomId: rooms[0] as string, seq: withFile.body.message.seq as number, body: 'a file', at: Date.now() }];
      let sending = true;
      const clients = await Promise.all(rooms.map(() => WsTestClient.connect(server.wsUrl, { token: alice.token })));
      const senders = rooms.map(async (roomId, r) => {
        const ws = clients[r] as WsTestClient;
        let n = 0;
        const lane = async () => {
          while (sending) {
            const body = `room ${r} message ${n++}`;
            const reply = await ws.request({ type: 'send', roomId, body });
            if (typeof reply.message?.seq !== 'number') throw new Error(`a send was not acknowledged: ${JSON.stringify(reply)}`);
            acked.push({ roomId, seq: reply.message.seq, body, at: Date.now() });
          }
        };
        try {
          await Promise.all([lane(), lane(), lane(), lane()]);
        } finally {
          sending = false;
        }
      });
      const traffic = Promise.all(senders);
      const enough = async (n: number) => {
        while (acked.length < n) await Promise.race([traffic, new Promise((r) => setTimeout(r, 20))]);
      };
      await enough(300);

      const startedAt = Date.now();
      const ackedBefore = acked.filter((a) => a.at < startedAt);
      const made = await parley(['backup', target], { DATA_DIR: live });
      assert.equal(made.code, 0, made.stderr);
      const ackedDuring = acked.length;
      // The node holds the database: a restore of that very backup over it is refused, even
      // with --force, and nothing is touched.
      const busy = await parley(['restore', target, '--force'], { DATA_DIR: live });
      assert.equal(busy.code, 1, busy.stderr);
      assert.match(busy.stderr, /open in another process: stop every node/);
      assert.deepEqual(readdirSync(live).filter((f) => f.includes('.replaced-') || f.includes('.restoring-')), [], 'nothing was moved aside');
      // Traffic goes on a little after the backup, so that the copy is not simply the end state.
      await enough(ackedDuring + 100);
      sending = false;
      await traffic;
      for (const ws of clients) ws.close();

      const manifest = JSON.parse(made.stdout) as Json;
      assert.equal(manifest.secretKey, true);
      assert.equal(manifest.files.count, 1, 'the one stored file');
      assert.ok((manifest.files.bytes as number) >= 'kept across a restore\n'.length);
      assert.ok((manifest.database.counts.messages as number) >= ackedBefore.length, 'the copy counts at least the messages acknowledged before it started');
      assert.ok((manifest.database.counts.messages as number) < acked.length, 'the copy is not the end state');
      assert.deepEqual(readdirSync(backups), ['nightly'], 'no partial directory is left beside the backup');

      // A restore into a DATA_DIR that holds a database needs --force.
      const refused = await parley(['restore', target], { DATA_DIR: live });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /exists: stop every node/);

      // A second backup refuses a destination that exists.
      const again = await parley(['backup', target], { DATA_DIR: live });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /exists already/);
      await server.stop();

      const back = await parley(['restore', target], { DATA_DIR: restored });
      assert.equal(back.code, 0, back.stderr);
      assert.equal(readFileSync(path.join(restored, 'secret.key')).equals(readFileSync(path.join(live, 'secret.key'))), true);

      const second = await startTestServer({ DATA_DIR: restored });
      try {
        const me = await api(second.url, 'GET', '/api/v1/me', { token: alice.token });
        assert.equal(me.status, 200, 'the session made before the backup works on the restored node');
        const listed = await api(second.url, 'GET', '/api/v1/rooms', { token: alice.token });
        const lastSeq = new Map((listed.body.rooms as Json[]).map((r) => [r.id as string, r.lastSeq as number]));
        let kept = 0;
        for (const roomId of rooms) {
          const messages = await history(second.url, alice.token, roomId);
          const bySeq = new Map(messages.map((m) => [m.seq, m.body]));
          const last = lastSeq.get(roomId) ?? 0;
          for (const a of acked.filter((x) => x.roomId === roomId)) {
            if (a.at < startedAt) assert.equal(bySeq.get(a.seq), a.body, `acknowledged before the backup started, room ${roomId} seq ${a.seq}`);
            // Whatever the copy holds is a prefix of the stream: every acknowledged message up to its last seq.
            if (a.seq <= last) {
              assert.equal(bySeq.get(a.seq), a.body, `a hole in room ${roomId} at seq ${a.seq} (last ${last})`);
              kept += 1;
            }
          }
          assert.equal(messages.length, acked.filter((x) => x.roomId === roomId && x.seq <= last).length, `room ${roomId} holds nothing that was not acknowledged`);
        }
        assert.ok(kept >= ackedBefore.length);
        assert.equal(kept, manifest.database.counts.messages);

        // The file and the signed link made before the backup.
        const bytes = await fetchFile(second, `/api/v1/files/${fileId}`, alice.token);
        assert.equal(bytes.status, 200);
        assert.equal(bytes.body.toString(), 'kept across a restore\n');
        const signed = await fetchFile(second, new URL(link.body.url as string, second.url).pathname + new URL(link.body.url as string, second.url).search);
        assert.equal(signed.status, 200, 'a link signed before the backup verifies with the restored key');

        // The streams go on from where the copy ended.
        const ws = await WsTestClient.connect(second.wsUrl, { token: alice.token });
        const next = await ws.request({ type: 'send', roomId: rooms[1], body: 'after the restore' });
        assert.equal(next.message.seq, (lastSeq.get(rooms[1] as string) ?? 0) + 1);
        ws.close();
      } finally {
        await second.stop();
      }

      // A restore over data in place with --force keeps what it replaces beside it.
      const forced = await parley(['restore', target, '--force'], { DATA_DIR: restored });
      assert.equal(forced.code, 0, forced.stderr);
      const report = JSON.parse(forced.stdout) as Json;
      assert.equal((report.keptAside as string[]).length >= 1, true);
      for (const aside of report.keptAside as string[]) assert.ok(existsSync(aside), aside);
    } finally {
      for (const dir of [live, restored, backups]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a backup altered after it was made, or not a backup, is refused before anything is touched', async () => {
    const live = mkdtempSync(path.join(tmpdir(), 'parley-backup-live-'));
    const other = mkdtempSync(path.join(tmpdir(), 'parley-backup-other-'));
    const backups = mkdtempSync(path.join(tmpdir(), 'parley-backups-'));
    try {
      const server = await startTestServer({ DATA_DIR: live });
      const alice = await registerUser(server.url, 'talice');
      const roomId = await createRoom(server.url, alice, 'private', 'altered');
      await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'original' } });
      const made = await parley(['backup', path.join(backups, 'b'), '--no-files'], { DATA_DIR: live });
      assert.equal(made.code, 0, made.stderr);
      assert.equal(JSON.parse(made.stdout).files, null);
      await server.stop();

      const notBackup = await parley(['restore', other], { DATA_DIR: other });
      assert.equal(notBackup.code, 1);
      assert.match(notBackup.stderr, /not a backup/);

      const db = path.join(backups, 'b', 'parley.db');
      const bytes = readFileSync(db);
      const at = bytes.indexOf(Buffer.from('original'));
      assert.ok(at > 0);
      bytes.write('ORIGINAL', at);
      writeFileSync(db, bytes);
      const altered = await parley(['restore', path.join(backups, 'b')], { DATA_DIR: other });
      assert.equal(altered.code, 1);
      assert.match(altered.stderr, /SHA-256/);
      assert.deepEqual(readdirSync(other), [], 'nothing was written');

      // A WAL left without its database (the file deleted by hand) must not be applied to the
      // restored one: it needs --force, and is moved aside.
      const stale = mkdtempSync(path.join(tmpdir(), 'parley-backup-stale-'));
      try {
        const good = await parley(['backup', path.join(backups, 'good'), '--no-files'], { DATA_DIR: live });
        assert.equal(good.code, 0, good.stderr);
        // A real WAL of the same database, holding a change the backup does not have: the old
        // database's WAL, its database since deleted.
        const oldDb = path.join(stale, 'old.db');
        writeFileSync(oldDb, readFileSync(path.join(backups, 'good', 'parley.db')));
        const old = new Sqlite(oldDb);
        old.pragma('journal_mode = WAL');
        old.pragma('wal_autocheckpoint = 0');
        old.prepare('UPDATE messages SET body = ?').run('from a stale WAL');
        writeFileSync(path.join(stale, 'parley.db-wal'), readFileSync(`${oldDb}-wal`));
        old.close();
        rmSync(oldDb);
        const refusedWal = await parley(['restore', path.join(backups, 'good')], { DATA_DIR: stale });
        assert.equal(refusedWal.code, 1);
        assert.match(refusedWal.stderr, /parley\.db-wal exists/);
        const forcedWal = await parley(['restore', path.join(backups, 'good'), '--force'], { DATA_DIR: stale });
        assert.equal(forcedWal.code, 0, forcedWal.stderr);
        assert.equal(existsSync(path.join(stale, 'parley.db-wal')), false, 'the stale WAL was moved aside');
        const restoredDb = new Sqlite(path.join(stale, 'parley.db'), { readonly: true });
        try {
          assert.deepEqual(restoredDb.prepare('SELECT body FROM messages').all(), [{ body: 'original' }]);
        } finally {
          restoredDb.close();
        }
      } finally {
        rmSync(stale, { recursive: true, force: true });
      }

      const usage = await parley(['backup'], { DATA_DIR: live });
      assert.equal(usage.code, 2);
      const postgres = await parley(['backup', path.join(backups, 'pg')], { DATA_DIR: live, DATABASE_URL: 'postgres://127.0.0.1:5432/test' });
      assert.equal(postgres.code, 2);
      assert.match(postgres.stderr, /pg_dump/);
    } finally {
      for (const dir of [live, other, backups]) rmSync(dir, { recursive: true, force: true });
    }
  });
});
