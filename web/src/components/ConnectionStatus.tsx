/**
 * The connection, always visible in the sidebar, and a banner when it is lost: the socket's
 * heartbeat notices a dead connection within seconds (and the browser's offline event at once),
 * and "Retry now" skips the backoff wait.
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { ConnectionState } from '../../../client/index.js';
import type { AppState } from '../state/app.js';

const STATE_LABELS: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'offline',
};

export function ConnectionStatus({ app }: { app: AppState }) {
  const change = app.connection.value;
  const now = useSignal(Date.now());
  const since = useSignal(Date.now());
  useEffect(() => {
    since.value = Date.now();
  }, [change]);
  const waiting = change.state === 'reconnecting';
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => {
      now.value = Date.now();
    }, 1000);
    return () => clearInterval(timer);
  }, [waiting]);

  // Once lost, the banner stays until the connection is open again: each reconnect attempt passes
  // through 'connecting', and the banner (with its button) must not blink out while it does.
  const wasLost = useRef(false);
  if (change.state === 'open') wasLost.current = false;
  else if (change.state === 'reconnecting' || (change.state === 'closed' && change.error !== undefined)) wasLost.current = true;
  const lost = wasLost.current || app.offline.value;
  const retrying = wasLost.current && (waiting || change.state === 'connecting');
  const retryIn = waiting && change.retryInMs !== undefined ? Math.max(0, Math.ceil((since.value + change.retryInMs - now.value) / 1000)) : null;
  return (
    <>
      <span class="connection" role="status" data-testid="connection-state" data-state={change.state}>
        {STATE_LABELS[change.state]}
      </span>
      {lost && (
        <div class="connection-lost" role="alert" data-testid="connection-lost">
          <span>
            {app.offline.value ? 'You are offline.' : 'Connection lost.'}
            {retryIn !== null && retryIn > 0 ? ` Retrying in ${retryIn} s…` : retrying ? ' Retrying…' : ''}
          </span>
          {retrying && (
            // During an attempt there is nothing to hurry: shown (so it does not jump), but disabled.
            <button type="button" class="small" aria-disabled={!waiting} onClick={() => waiting && app.api.retryNow()} data-testid="retry-now">
              Retry now
            </button>
          )}
        </div>
      )}
    </>
  );
}
