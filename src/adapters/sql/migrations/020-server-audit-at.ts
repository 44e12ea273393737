import type { Migration } from './index.js';

/**
 * The server's audit log by age (an expand step: an index only). Entries older than
 * SERVER_AUDIT_RETENTION_DAYS are deleted by the retention job, oldest first, in bounded batches.
 */
export const serverAuditAt: Migration = {
  version: 20,
  name: 'server-audit-at',
  sqlite: ['CREATE INDEX server_audit_at ON server_audit (at)'],
  postgres: ['CREATE INDEX server_audit_at ON server_audit (at)'],
};
