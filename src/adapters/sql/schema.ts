/**
 * The tables as Kysely sees them. Times are epoch milliseconds (BIGINT), ids are text, booleans
 * are 0/1 integers: one representation for both dialects, so rows map to records the same way.
 */
import type { Generated } from 'kysely';
import type { EventKind } from '../../domain/types.js';

export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  /** display_name folded (foldName in src/protocol/text.ts), to find names that read as a username. */
  display_name_folded: string;
  password_hash: string;
  created_at: number;
  /** A bot's owner (users.id); null for people. */
  bot_owner_id: Generated<string | null>;
  /** When a bot was deleted; null while active (and for people). */
  deactivated_at: Generated<number | null>;
  /** The user's avatar (uploads.id), or null. */
  avatar_id: Generated<string | null>;
  /** The status line the user set, or null. */
  status_text: Generated<string | null>;
  /** When the status stops showing; null: until it is changed. */
  status_expires_at: Generated<number | null>;
  /** When a server administrator disabled the account; null while it may log in. */
  disabled_at: Generated<number | null>;
  /** When the account was deleted (erased: its row stays for the messages naming it); null while it exists. */
  deleted_at: Generated<number | null>;
}

export interface SessionsTable {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface RoomsTable {
  id: string;
  name: string;
  visibility: 'public' | 'private' | 'dm';
  topic: string;
  created_at: number;
  last_seq: number;
  /** created_at of the newest event, for ordering room lists by activity. */
  last_activity_at: number;
  dm_key: string | null;
  /** The room's retention policy in days; null: the server's (RETENTION_DAYS). */
  retention_days: Generated<number | null>;
  /** Messages up to this seq are past the retention policy and tombstoned. */
  purged_seq: Generated<number>;
  /** The room's avatar (uploads.id), or null. */
  avatar_id: Generated<string | null>;
  /** When the room was archived (readable, refusing sends, edits and joins); null while open. */
  archived_at: Generated<number | null>;
}

export interface MembersTable {
  room_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  joined_at: number;
  last_read_seq: number;
}

export interface EventsTable {
  room_id: string;
  seq: number;
  kind: EventKind;
  target: number | null;
  user_id: string;
  created_at: number;
  /** Reaction events: the emoji; null for other kinds. */
  emoji?: string | null;
  /** For moderation events: the member it is about (the actor is user_id). */
  member_id?: string | null;
  /** For moderation events: their fields (ModerationDetails) as JSON. */
  data?: string | null;
}

export interface RoomRestrictionsTable {
  room_id: string;
  user_id: string;
  kind: 'ban' | 'mute';
  /** Epoch ms; null: for ever. */
  until: number | null;
  reason: string | null;
  created_by: string;
  created_at: number;
}

export interface AuditLogTable {
  room_id: string;
  /** The seq of the action's stream event. */
  seq: number;
  action: EventKind;
  actor_id: string;
  member_id: string | null;
  /** ModerationDetails as JSON. */
  data: string | null;
  created_at: number;
}

export interface MessagesTable {
  room_id: string;
  seq: number;
  id: string;
  author_id: string;
  body: string;
  created_at: number;
  edited_at: number | null;
  deleted: number;
  client_msg_id: string | null;
  /** The body folded for search (see domain/search.ts), written by the search indexer; '' until then and once deleted. */
  search_text: Generated<string>;
  /** The seq of the stream event whose text search_text holds (0: none yet). */
  search_seq: Generated<number>;
  /** The attachments as JSON (AttachmentRecord[]); null when none, and once deleted. */
  attachments: Generated<string | null>;
  /** A reply: the seq of its thread's root (a top-level message of the room); null for top-level messages. */
  thread_root: Generated<number | null>;
  /** A root: its replies not deleted. */
  reply_count: Generated<number>;
  /** A root: when its latest reply was sent; null until it has one. */
  last_reply_at: Generated<number | null>;
}

export interface ReactionsTable {
  room_id: string;
  seq: number;
  emoji: string;
  user_id: string;
  created_at: number;
}

export interface ReactionCountsTable {
  room_id: string;
  seq: number;
  emoji: string;
  /** How many reacted so (a row is deleted at zero). */
  count: number;
  /** When the emoji was first added to the message: the order reactions are shown in. */
  first_at: number;
}

export interface ThreadFollowsTable {
  room_id: string;
  root_seq: number;
  user_id: string;
  /** 1 while the user follows the thread; 0 once they unfollowed (the row keeps their marker). */
  following: number;
  /** Replies up to this seq are read. */
  last_read_seq: number;
}

export interface UploadsTable {
  id: string;
  kind: 'attachment' | 'user_avatar' | 'room_avatar';
  room_id: string | null;
  user_id: string;
  state: 'receiving' | 'direct' | 'ready' | 'attached' | 'doomed' | 'deleted';
  name: string;
  size: number;
  /** The bytes the daily quota counts for it. */
  received: number;
  content_type: string;
  width: number | null;
  height: number | null;
  object_key: string;
  thumb_key: string | null;
  thumb_width: number | null;
  thumb_height: number | null;
  message_seq: number | null;
  created_at: number;
}

export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: number;
  /** The newest migration a node must know to run on a schema with this one applied (0: any; see Migration.contract). */
  requires_known: Generated<number>;
}

export interface JobsTable {
  /** Insertion order: ties of run_at run in it. */
  seq: Generated<number>;
  id: string;
  queue: string;
  job_key: string | null;
  /** The payload as JSON. */
  payload: string;
  state: 'waiting' | 'active' | 'done' | 'dead';
  /** Runs started so far. */
  attempt: number;
  max_attempts: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
  run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  /** The last failed run's message. */
  error: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface JobSchedulesTable {
  queue: string;
  name: string;
  every_ms: number;
  payload: string;
  next_at: number;
}

export interface ExportsTable {
  id: string;
  room_id: string;
  user_id: string;
  format: 'ndjson' | 'html';
  state: 'queued' | 'running' | 'done' | 'failed';
  /** The room's last seq when the export was asked for: it covers the history up to it. */
  through_seq: number;
  /** Progress: the seq exported so far. */
  done_seq: number;
  messages: number;
  bytes: number;
  error: string | null;
  created_at: number;
  finished_at: number | null;
  expires_at: number | null;
}

export interface WebhooksTable {
  id: string;
  room_id: string;
  created_by: string;
  url: string;
  /** The signing secret, sealed with the server key. */
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
  /** JSON array of event kinds; null: all. */
  events: string | null;
  state: 'active' | 'disabled';
  disabled_reason: string | null;
  failing_since: number | null;
  /** The room's events up to this seq were handed to delivery jobs. */
  cursor_seq: number;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: string;
  seq: number;
  attempt: number;
  ok: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
  at: number;
}

export interface JobKeysTable {
  queue: string;
  job_key: string;
  /** The job holding the key. */
  id: string;
  state: 'pending' | 'live' | 'done';
  /** When it entered its state, epoch ms. */
  since: number;
}

export interface IncomingWebhooksTable {
  id: string;
  room_id: string;
  bot_id: string;
  creator_id: string;
  name: string;
  /** SHA-256 of the URL's secret token, hex; unique. */
  token_hash: string;
  created_at: number;
}

export interface NotificationsTable {
  id: Generated<number>;
  user_id: string;
  room_id: string;
  seq: number;
  kind: string;
  actor_id: string;
  created_at: number;
}

export interface NotificationCursorsTable {
  room_id: string;
  cursor_seq: number;
}

export interface StreamCursorsTable {
  room_id: string;
  consumer: string;
  cursor_seq: number;
}

export interface ServerRolesTable {
  user_id: string;
  role: 'admin';
  granted_at: number;
}

export interface NotificationPrefsTable {
  user_id: string;
  room_id: string;
  level: string;
  muted_until: number | null;
}

export interface NotificationSettingsTable {
  user_id: string;
  read_up_to: Generated<number>;
  email: Generated<string | null>;
  email_digest: Generated<number>;
  digest_sent_up_to: Generated<number>;
}

/** Where each room created while sharding is on lives (migration 16). */
export interface RoomDirectoryTable {
  room_id: string;
  shard: string;
  dm_key: string | null;
  moving_to: string | null;
  move_seq: number | null;
  created_at: number;
}

export interface BlocksTable {
  user_id: string;
  blocked_id: string;
  created_at: number;
}

/** A server administrator's action (migration 19). */
export interface ServerAuditTable {
  id: Generated<number>;
  at: number;
  action: string;
  actor_id: string | null;
  via: 'api' | 'console';
  user_id: string | null;
  room_id: string | null;
  data: string | null;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  rooms: RoomsTable;
  members: MembersTable;
  events: EventsTable;
  messages: MessagesTable;
  parley_migrations: MigrationsTable;
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
  exports: ExportsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  job_keys: JobKeysTable;
  incoming_webhooks: IncomingWebhooksTable;
  uploads: UploadsTable;
  room_restrictions: RoomRestrictionsTable;
  audit_log: AuditLogTable;
  reactions: ReactionsTable;
  reaction_counts: ReactionCountsTable;
  thread_follows: ThreadFollowsTable;
  notifications: NotificationsTable;
  notification_cursors: NotificationCursorsTable;
  stream_cursors: StreamCursorsTable;
  server_roles: ServerRolesTable;
  server_audit: ServerAuditTable;
  notification_prefs: NotificationPrefsTable;
  notification_settings: NotificationSettingsTable;
  blocks: BlocksTable;
  room_directory: RoomDirectoryTable;
}
