/**
 * `parley data verify`: does the target hold what the source holds? Compared: the rows of every
 * copied table, and per room its last seq and a checksum of its messages (seq, body, edit time,
 * deleted) and of its events, each read in seq order and hashed here in TypeScript, so both
 * dialects hash the same bytes (no database hash function, whose output would differ). A room
 * reads a batch at a time; what is kept is one digest per room.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../adapters/sql/schema.js';
import { readBatch, type Row } from './rows.js';
import type { StoreKind } from './stores.js';
import type { TablePlan } from './tables.js';

export interface Difference {
  table: string;
  /** The room whose rows differ; absent for a table's count. */
  room?: string;
  what: string;
  source: string | number | null;
  target: string | number | null;
}

export interface VerifyReport {
  ok: boolean;
  /** Rows per table on the source (the target's when they differ are in `differences`). */
  counts: Record<string, number>;
  rooms: number;
  differences: Difference[];
}

/** What a room's rows are hashed over, in seq order. */
const HASHED: Record<'messages' | 'events', string[]> = {
  messages: ['seq', 'body', 'edited_at', 'deleted'],
  events: ['seq', 'kind', 'target', 'user_id', 'created_at', 'emoji', 'member_id', 'data'],
};

const BATCH = 2_000;

interface Reader {
  q: Kysely<Database>;
  kind: StoreKind;
}

/** Per room, the SHA-256 of its rows of `table` (one JSON line per row, in seq order). */
export async function roomDigests(side: Reader, table: 'messages' | 'events', batch = BATCH): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  const columns = ['room_id', ...HASHED[table]];
  let room: string | null = null;
  let hash: Hash | null = null;
  let after: unknown[] | null = null;
  for (;;) {
    const rows = await readBatch({ q: side.q, kind: side.kind, keyTypes: [] }, table, columns, ['room_id', 'seq'], after, batch, null);
    for (const row of rows) {
      const id = String(row.room_id);
      if (id !== room) {
        if (room !== null && hash !== null) digests.set(room, hash.digest('hex'));
        room = id;
        hash = createHash('sha256');
      }
      hash?.update(`${JSON.stringify(HASHED[table].map((c) => row[c] ?? null))}\n`);
    }
    if (rows.length < batch) break;
    const last = rows.at(-1) as Row;
    after = [last.room_id, last.seq];
  }
  if (room !== null && hash !== null) digests.set(room, hash.digest('hex'));
  return digests;
}

async function lastSeqs(side: Reader): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  let after: unknown[] | null = null;
  for (;;) {
    const rows = await readBatch({ q: side.q, kind: side.kind, keyTypes: [] }, 'rooms', ['id', 'last_seq'], ['id'], after, BATCH, null);
    for (const row of rows) seqs.set(String(row.id), Number(row.last_seq));
    if (rows.length < BATCH) break;
    after = [(rows.at(-1) as Row).id];
  }
  return seqs;
}

async function count(q: Kysely<Database>, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(q);
  return Number(rows[0]?.n ?? 0);
}

export async function verify(source: Reader, target: Reader, plans: TablePlan[]): Promise<VerifyReport> {
  const differences: Difference[] = [];
  const counts: Record<string, number> = {};
  for (const plan of plans) {
    const [s, t] = [await count(source.q, plan.name), await count(target.q, plan.name)];
    counts[plan.name] = s;
    if (s !== t) differences.push({ table: plan.name, what: 'rows', source: s, target: t });
  }
  const [sourceSeqs, targetSeqs] = [await lastSeqs(source), await lastSeqs(target)];
  for (const [room, seq] of sourceSeqs) {
    const there = targetSeqs.get(room);
    if (there !== seq) differences.push({ table: 'rooms', room, what: 'last_seq', source: seq, target: there ?? null });
  }
  for (const room of targetSeqs.keys()) if (!sourceSeqs.has(room)) differences.push({ table: 'rooms', room, what: 'last_seq', source: null, target: targetSeqs.get(room) ?? null });
  for (const table of ['messages', 'events'] as const) {
    const [s, t] = [await roomDigests(source, table), await roomDigests(target, table)];
    for (const room of new Set([...s.keys(), ...t.keys()])) {
      if (s.get(room) !== t.get(room)) differences.push({ table, room, what: 'checksum', source: s.get(room) ?? null, target: t.get(room) ?? null });
    }
  }
  return { ok: differences.length === 0, counts, rooms: sourceSeqs.size, differences };
}
