/**
 * A caller in at most this many rooms is searched in those rooms only, on every store: on a
 * big server nearly all of the newest matches of a query lie in rooms the caller is not in, so
 * walking the whole server's matches newest first found a page only after thousands of
 * candidates, often none within the cap (measured at 1,000,000 messages over 10,000 rooms, a
 * caller in 50: a quarter of the answers truncated on SQLite, 490 ms on PostgreSQL). A caller
 * in more rooms is searched over the whole server, where their rooms hold more of the matches.
 */
export const SCOPED_ROOMS_MAX = 200;
