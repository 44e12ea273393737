/**
 * The server's audit log, newest first, a page at a time: every administrator's action, through
 * the API or at the console, with who did it, to whom or which room, and what it changed. Its
 * newest page is read again after every change made from this page.
 */
import type { ServerAuditEntry } from '../../../../client/index.js';
import { formatDateTime } from '../../format.js';
import { type AdminContext, PageEnd, usePaged } from './shared.js';

const PAGE = 50;

export function Audit({ context }: { context: AdminContext }) {
  const changes = context.changes.value;
  const entries = usePaged<ServerAuditEntry>(
    'The audit log',
    async (after) => {
      const page = await context.api.audit({ before: after === undefined ? undefined : Number(after), limit: PAGE });
      return { items: page.entries, next: page.nextBefore === null ? null : String(page.nextBefore) };
    },
    [changes],
  );
  const list = entries.items.value;
  return (
    <section class="admin-section" aria-labelledby="admin-audit-title" data-testid="admin-audit">
      <div class="admin-section-head">
        <h3 id="admin-audit-title">Audit log</h3>
        <button type="button" class="secondary small" onClick={() => entries.reload()} data-testid="admin-audit-refresh">
          Refresh
        </button>
      </div>
      {list?.length === 0 && <p class="hint">Nothing was done yet.</p>}
      {list !== null && list.length > 0 && (
        <div class="table-wrap">
          <table class="admin-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">By</th>
                <th scope="col">User</th>
                <th scope="col">Room</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {list.map((entry) => (
                <tr key={entry.id} data-testid="admin-audit-entry" data-entry-id={entry.id} data-action={entry.action}>
                  <td>
                    <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
                  </td>
                  <td>
                    <code data-testid="admin-audit-action">{entry.action}</code>
                  </td>
                  <td data-testid="admin-audit-actor">
                    {entry.actor === null ? 'someone' : `@${entry.actor.username}`}
                    {entry.via === 'console' && <span class="hint"> at the console</span>}
                  </td>
                  <td data-testid="admin-audit-user">{entry.user === null ? '' : `@${entry.user.username}`}</td>
                  <td>{entry.roomId !== null && <code>{entry.roomId}</code>}</td>
                  <td>{entry.data !== null && <code class="admin-payload">{JSON.stringify(entry.data)}</code>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PageEnd paged={entries} label="Older entries" testId="admin-audit-older" />
    </section>
  );
}
