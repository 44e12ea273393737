/** The domain services, as the transports see them. Built by the composition root (app.ts). */
import type { OpsSink } from '../pipeline/ops-events.js';
import type { Exports } from '../exports/exports.js';
import type { Files } from '../files/files.js';
import type { JobQueue, RateLimiter, Store } from '../ports.js';
import type { Retention } from '../retention/retention.js';
import type { Webhooks } from '../webhooks/webhooks.js';
import type { Blocks } from '../notifications/blocks.js';
import type { Notifications } from '../notifications/notifications.js';
import type { Access } from './access.js';
import type { Accounts } from './accounts.js';
import type { Bots } from './bots.js';
import type { IncomingWebhooks } from './incoming-webhooks.js';
import type { Messages } from './messages.js';
import type { People } from './people.js';
import type { Moderation } from './moderation.js';
import type { PresenceService } from './presence.js';
import type { Rooms } from './rooms.js';
import type { Search } from './search.js';
import type { AnalyticsReports } from './analytics-reports.js';
import type { Administration } from './administration.js';
import type { StreamWriter } from './stream-writer.js';
import type { Threads } from './threads.js';

export interface Services {
  store: Store;
  access: Access;
  accounts: Accounts;
  bots: Bots;
  incomingWebhooks: IncomingWebhooks;
  rooms: Rooms;
  people: People;
  messages: Messages;
  moderation: Moderation;
  threads: Threads;
  search: Search;
  presence: PresenceService;
  writer: StreamWriter;
  /** Login and register attempts per client IP. */
  authLimiter: RateLimiter;
  jobs: JobQueue;
  exports: Exports;
  retention: Retention;
  webhooks: Webhooks;
  files: Files;
  notifications: Notifications;
  blocks: Blocks;
  /** Operational events to the event log (connections, logins); nothing without one. */
  ops: OpsSink;
  /** The analytics reports of server administrators. */
  analytics: AnalyticsReports;
  /** Server administration (users, rooms, dead jobs, nodes) for server administrators. */
  admin: Administration;
}
