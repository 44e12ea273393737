/**
 * The workers of one machine share the embedded SQLite file: appends from several processes to
 * one room must still get gapless, unique seqs, and concurrent migrations must not collide.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { newId } from '../../src/domain/ids.js';

const run = promisify(execFile);
const appender = path.join(import.meta.dirname, '..', 'support', 'sqlite-appender.ts');

test('three processes appending to one room of one SQLite file get gapless seqs', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-mp-'));
  const file = path.join(dir, 'parley.db');
  const store = openSqliteStore(file);
  try {
    await store.migrate();
    const owner = { id: newId(), username: `mp_${newId().slice(0, 8)}`.toLowerCase(), displayName: 'mp', passwordHash: 'x', createdAt: Date.now() };
    await store.createUser(owner);
    const { room } = await store.createRoom({ id: newId(), name: 'shared', visibility: 'public', topic: '', createdAt: Date.now() }, owner.id);

    const batches = 40;
    const outputs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', appender, file, room.id, owner.id, String(batches)], { timeout: 60_000 })),
    );
    const seqs = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((a, b) => a - b);
    const total = 3 * batches * 5;
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 2));
    const events = await store.readEvents(room.id, 0, total + 10);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: total + 1 }, (_, i) => i + 1));
    assert.equal((await store.findRoom(room.id))?.lastSeq, total + 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
