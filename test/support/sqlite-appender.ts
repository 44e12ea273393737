/**
 * A separate process appending to a shared SQLite file, for the multi-process test:
 * `node --import tsx sqlite-appender.ts <file> <roomId> <userId> <batches>`. Prints the seqs it
 * was given, as JSON.
 */
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { newId } from '../../src/domain/ids.js';

const [file, roomId, userId, batches] = process.argv.slice(2);
if (file === undefined || roomId === undefined || userId === undefined || batches === undefined) {
  console.error('usage: sqlite-appender <file> <roomId> <userId> <batches>');
  process.exit(2);
}
const store = openSqliteStore(file);
await store.migrate();
const seqs: number[] = [];
for (let b = 0; b < Number(batches); b++) {
  const outcomes = await store.append(
    Array.from({ length: 5 }, (_, i) => ({ kind: 'message' as const, roomId, userId, id: newId(), body: `p${process.pid} b${b} m${i}`, clientMsgId: null, at: Date.now() })),
  );
  for (const o of outcomes) {
    if (o.status !== 'appended') throw new Error(`unexpected outcome ${JSON.stringify(o)}`);
    seqs.push(o.event.seq);
  }
}
await store.close();
process.stdout.write(JSON.stringify(seqs));
