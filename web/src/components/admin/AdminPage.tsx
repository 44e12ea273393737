/**
 * The server administrators' page (`#/admin`): the nodes and their health, the users, the rooms,
 * the job queues and the server's audit log. The nodes are read first: the server refuses anyone
 * but a server administrator there, who then sees only that this page is not theirs.
 */
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { type AdminNode, isServerRoleRefusal } from '../../../../client/index.js';
import { describeError } from '../../format.js';
import type { AppState } from '../../state/app.js';
import { type Confirmation, ConfirmDialog } from '../ConfirmDialog.js';
import { Audit } from './Audit.js';
import { Jobs } from './Jobs.js';
import { Nodes } from './Nodes.js';
import { Rooms } from './Rooms.js';
import type { AdminContext } from './shared.js';
import { Users } from './Users.js';

type Access = { state: 'checking' } | { state: 'refused' } | { state: 'failed'; error: string } | { state: 'allowed'; nodes: AdminNode[] };

export function AdminPage({ app }: { app: AppState }) {
  const api = app.api.admin;
  const access = useSignal<Access>({ state: 'checking' });
  const attempt = useSignal(0);
  const changes = useSignal(0);
  const confirmation = useSignal<Confirmation | null>(null);
  const confirmError = useSignal('');

  useEffect(() => {
    let current = true;
    access.value = { state: 'checking' };
    api.nodes().then(
      (nodes) => {
        if (current) access.value = { state: 'allowed', nodes };
      },
      (error: unknown) => {
        if (current) access.value = isServerRoleRefusal(error) ? { state: 'refused' } : { state: 'failed', error: describeError(error) };
      },
    );
    return () => {
      current = false;
    };
  }, [attempt.value]);

  const context: AdminContext = {
    api,
    me: app.me,
    ask(question, confirm, action) {
      confirmError.value = '';
      confirmation.value = {
        question,
        confirm,
        action: async () => {
          try {
            await action();
            confirmation.value = null;
          } catch (error) {
            confirmError.value = describeError(error);
          }
        },
      };
    },
    changed: () => {
      changes.value++;
    },
    changes,
  };

  const shown = access.value;
  return (
    <section class="admin" aria-labelledby="admin-title" data-testid="admin-page">
      <header class="room-header">
        <a class="back" href="#/" aria-label="Back to rooms">
          ‹
        </a>
        <h2 id="admin-title">Administration</h2>
      </header>
      <div class="admin-body">
        {shown.state === 'checking' && <p class="hint pane-message">Loading…</p>}
        {shown.state === 'refused' && (
          <p class="pane-message" role="alert" data-testid="admin-refused">
            Only server administrators can see this page.
          </p>
        )}
        {shown.state === 'failed' && (
          <div class="pane-message">
            <p class="error" role="alert" data-testid="admin-load-error">
              The administration page could not be loaded: {shown.error}
            </p>
            <button type="button" class="secondary small" onClick={() => attempt.value++}>
              Try again
            </button>
          </div>
        )}
        {shown.state === 'allowed' && (
          <>
            <Nodes api={api} initial={shown.nodes} />
            <Users context={context} />
            <Rooms context={context} />
            <Jobs context={context} />
            <Audit context={context} />
          </>
        )}
      </div>
      <ConfirmDialog
        confirmation={confirmation.value}
        error={confirmError.value}
        onDone={() => {
          confirmation.value = null;
        }}
      />
    </section>
  );
}
