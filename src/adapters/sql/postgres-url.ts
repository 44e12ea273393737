/** Names of PostgreSQL servers and shards, from their URLs (no connection made). */

/** host:port/database of a URL: names a server in logs and metrics without its password. */
export function serverName(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname === '' ? '/' : u.pathname}`;
}

/** The same database: host, port and database name alike (credentials and options aside). */
export function sameDatabase(a: string, b: string): boolean {
  return serverName(a) === serverName(b);
}

export interface ShardUrl {
  name: string;
  url: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `name=postgres://…` or a bare URL (named host:port/database). The name is what the room
 * directory records: keep it when a shard's address changes.
 */
export function parseShardUrl(entry: string): ShardUrl {
  const eq = entry.indexOf('=');
  const scheme = entry.indexOf('://');
  if (eq > 0 && (scheme < 0 || eq < scheme)) {
    const name = entry.slice(0, eq);
    if (!NAME.test(name)) throw new Error(`shard name "${name}": use letters, digits, _ . - (at most 64)`);
    return { name, url: entry.slice(eq + 1) };
  }
  return { name: serverName(entry), url: entry };
}
