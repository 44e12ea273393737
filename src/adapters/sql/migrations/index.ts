/**
 * Versioned schema migrations, one list for both dialects. A migration is never edited once
 * released: changes go in a new one with the next version.
 *
 * Expand, then contract: nodes of the previous release keep running on the schema while a new
 * release rolls out (docs/operations.md, "Upgrading"), so a migration adds (tables, nullable
 * columns or columns with a default, indexes) and changes nothing the previous release's code
 * reads. What removes or renames a table or column is a contract step, released at least one
 * version after the code stopped reading it, and marked `contract`; test/adapters/migration-rules.test.ts
 * applies every migration and fails on a removal not marked so.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { initial } from './001-initial.js';
import { searchIndex } from './002-search-index.js';
import { displayNameFolded } from './003-display-name-folded.js';
import { roomNameSearch } from './004-room-name-search.js';
import { jobs } from './005-jobs.js';
import { jobKeys } from './006-job-keys.js';
import { exportsRetention } from './007-exports-retention.js';
import { webhooks } from './008-webhooks.js';
import { bots } from './009-bots.js';
import { uploads } from './010-uploads.js';
import { openKinds } from './011-open-kinds.js';
import { threadsReactions } from './012-threads-reactions.js';
import { moderation } from './013-moderation.js';
import { people } from './014-people.js';
import { notifications } from './015-notifications.js';
import { shards } from './016-shards.js';
import { eventPipeline } from './017-event-pipeline.js';
import { serverRoles } from './018-server-roles.js';
import { administration } from './019-administration.js';
import { serverAuditAt } from './020-server-audit-at.js';

export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
  /** Rewrites rows where SQL alone cannot (an application function), after the statements, in the same transaction. */
  data?(trx: Kysely<Database>): Promise<void>;
  /**
   * Marks a contract step: it drops or renames tables or columns (or breaks older code in a way
   * no check sees, such as a changed meaning), so nodes of older releases must not run on it.
   * `removes`: each table and `table.column` it removes (the test holds it to what applying the
   * migration really removes). `requiresKnown`: the newest migration of the first release whose
   * code no longer reads them; recorded with the migration, so a node that knows fewer refuses to
   * start on this schema, and nodes of that release (still rolling out) and later run on it.
   * Without it a migration is an expand step: nodes that do not know it run on it.
   */
  contract?: { removes: readonly string[]; requiresKnown: number };
}

export const MIGRATIONS: readonly Migration[] = [initial, searchIndex, displayNameFolded, roomNameSearch, jobs, jobKeys, exportsRetention, webhooks, bots, uploads, openKinds, threadsReactions, moderation, people, notifications, shards, eventPipeline, serverRoles, administration, serverAuditAt];
