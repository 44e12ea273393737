import type { Migration } from './index.js';

/**
 * Outgoing webhooks (src/webhooks/): the endpoints a room owner registered, and the log of
 * their latest delivery attempts.
 *
 * - `webhooks`: the endpoint's URL, its signing secret sealed with the server key (never in
 *   clear), the previous secret while a rotation's grace runs, which event kinds it wants, its
 *   state (active or disabled, and why), since when it has been failing, and `cursor_seq`: the
 *   room's events up to it have been handed to delivery jobs.
 * - `webhook_deliveries`: one row per delivery attempt, newest kept (pruned per endpoint).
 */
export const webhooks: Migration = {
  version: 8,
  name: 'webhooks',
  sqlite: [
    `CREATE TABLE webhooks (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id),
      created_by TEXT NOT NULL REFERENCES users (id),
      url TEXT NOT NULL,
      secret_sealed TEXT NOT NULL,
      previous_secret_sealed TEXT,
      previous_secret_until INTEGER,
      events TEXT,
      state TEXT NOT NULL,
      disabled_reason TEXT,
      failing_since INTEGER,
      cursor_seq INTEGER NOT NULL,
      created_at INTEGER NOT NULL
    )`,
    'CREATE INDEX webhooks_room ON webhooks (room_id)',
    `CREATE TABLE webhook_deliveries (
      id INTEGER PRIMARY KEY,
      webhook_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      status INTEGER,
      error TEXT,
      duration_ms INTEGER NOT NULL,
      at INTEGER NOT NULL
    )`,
    'CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id)',
  ],
  postgres: [
    `CREATE TABLE webhooks (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id),
      created_by TEXT NOT NULL REFERENCES users (id),
      url TEXT NOT NULL,
      secret_sealed TEXT NOT NULL,
      previous_secret_sealed TEXT,
      previous_secret_until BIGINT,
      events TEXT,
      state TEXT NOT NULL,
      disabled_reason TEXT,
      failing_since BIGINT,
      cursor_seq BIGINT NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    'CREATE INDEX webhooks_room ON webhooks (room_id)',
    `CREATE TABLE webhook_deliveries (
      id BIGSERIAL PRIMARY KEY,
      webhook_id TEXT NOT NULL,
      seq BIGINT NOT NULL,
      attempt INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      status INTEGER,
      error TEXT,
      duration_ms INTEGER NOT NULL,
      at BIGINT NOT NULL
    )`,
    'CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id)',
  ],
};
