/**
 * Search indexing for tests that call a Store directly: the indexer's own code (indexRoom) run
 * over every room behind its `search` cursor, as a server's indexer would after the commits.
 */
import { indexRoom } from '../../src/pipeline/search-indexer.js';
import type { SearchPage, SearchQuery, Store } from '../../src/ports.js';

export async function indexAll(store: Store): Promise<void> {
  for (let round = 0; ; round++) {
    const rooms = await store.roomsBehindCursor('search', 1_000);
    if (rooms.length === 0) return;
    if (round > 20) throw new Error(`rooms stay behind their search cursor: ${rooms.slice(0, 5).join(', ')}`);
    for (const roomId of rooms) {
      let cursor = await store.streamCursor(roomId, 'search');
      for (;;) {
        const events = await store.readEvents(roomId, cursor, 500);
        if (events.length === 0) break;
        await indexRoom(store, roomId, events, undefined, cursor);
        cursor = events.at(-1)?.seq ?? cursor;
      }
    }
  }
}

/** Indexes what was committed, then searches. */
export async function searchIndexed(store: Store, query: SearchQuery): Promise<SearchPage> {
  await indexAll(store);
  return store.search(query);
}
