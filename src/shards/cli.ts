/**
 * `parley shards …`: where rooms live when DATABASE_SHARD_URLS spreads them, and moving one
 * while it is in use (src/adapters/sql/shard-move.ts). Answers on stdout as JSON lines.
 */
import { openShards } from '../app.js';
import { STALE_POLLS } from '../adapters/sql/move-watch.js';
import { type MoveShard, moveRoom } from '../adapters/sql/shard-move.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/log.js';

const USAGE = 'usage: parley shards status | move <roomId> <shard>\n';

/** More than the nodes' staleness bound: every node has seen the move announced, or holds writes. */
export const moveGraceMs = (config: Config): number => (STALE_POLLS + 1) * config.DATABASE_SHARD_MOVE_POLL_MS + 1_000;

export async function runShardsCommand(args: string[], config: Config, log: Logger, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const [action, roomId, to] = args;
  if ((action !== 'status' && action !== 'move') || (action === 'move' && (roomId === undefined || to === undefined))) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (config.DATABASE_SHARD_URLS.length === 0) {
    process.stderr.write('parley shards: DATABASE_SHARD_URLS is not set: every room is on DATABASE_URL.\n');
    return 78;
  }
  const sharded = openShards(config, log);
  try {
    await sharded.store.migrate();
    const primary = sharded.shards.get('primary');
    if (primary === undefined) throw new Error('no primary');
    if (action === 'status') {
      const counts = await primary.sql.roomsPerShard();
      for (const [name] of sharded.shards) out(JSON.stringify({ shard: name, directoryRooms: counts.get(name) ?? 0 }));
      const moves = await primary.sql.movesSince(Number.MAX_SAFE_INTEGER);
      for (const [room, shard] of moves.moving) out(JSON.stringify({ moving: room, to: shard }));
      return 0;
    }
    const shards = new Map<string, MoveShard>([...sharded.shards].map(([name, s]) => [name, { name, db: s.sql.db, sql: s.sql }]));
    const report = await moveRoom(
      { primary: { name: 'primary', db: primary.sql.db, sql: primary.sql }, shards, graceMs: moveGraceMs(config), log: (message, fields) => log.info(fields ?? {}, message) },
      roomId as string,
      to as string,
    );
    out(JSON.stringify(report));
    return 0;
  } finally {
    await sharded.store.close();
  }
}
