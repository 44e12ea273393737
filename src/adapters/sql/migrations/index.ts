/**
 * Versioned schema migrations, one list for both dialects. A migration is never edited once
 * released: changes go in a new one with the next version.
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

export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
  /** Rewrites rows where SQL alone cannot (an application function), after the statements, in the same transaction. */
  data?(trx: Kysely<Database>): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [initial, searchIndex, displayNameFolded, roomNameSearch, jobs, jobKeys, exportsRetention, webhooks, bots, uploads, openKinds, threadsReactions, moderation, people, notifications, shards, eventPipeline, serverRoles];
