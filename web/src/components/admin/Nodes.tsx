/**
 * The nodes of the deployment and its `parley worker` processes, as each last told the others
 * over the bus: ready or why not, connections, message, delivery and job rates, event-loop lag
 * and memory, with totals. Read again every few seconds while the page is open and visible.
 */
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { AdminClient, AdminNode as NodeStatus } from '../../../../client/index.js';
import { describeError, formatDateTime, formatSize, formatTime } from '../../format.js';
import { formatRate } from './shared.js';

/** How often the nodes are read again. */
export const NODES_REFRESH_MS = 5_000;

const BREAKER_STATES: Record<number, string> = { 1: 'half-open', 2: 'open' };

function NodeState({ node }: { node: NodeStatus }) {
  const breakers = Object.entries(node.breakers);
  return (
    <>
      <span class={node.ready ? 'node-state ready' : 'node-state'} data-testid="node-state">
        {node.ready ? 'Ready' : `Not ready: ${node.notReadyReason ?? 'no reason given'}`}
      </span>
      {breakers.length > 0 && <span class="hint"> · breakers {breakers.map(([kind, state]) => `${kind} ${BREAKER_STATES[state] ?? state}`).join(', ')}</span>}
    </>
  );
}

/** "2 nodes", or "2 nodes and 1 worker". */
function describeCount(list: readonly NodeStatus[]): string {
  const workers = list.filter((n) => n.role === 'worker').length;
  const nodes = list.length - workers;
  const said = nodes === 1 ? '1 node' : `${nodes} nodes`;
  return workers === 0 ? said : `${said} and ${workers === 1 ? '1 worker' : `${workers} workers`}`;
}

export function Nodes({ api, initial }: { api: AdminClient; initial: NodeStatus[] }) {
  const nodes = useSignal(initial);
  const readAt = useSignal(new Date().toISOString());
  const error = useSignal('');

  useEffect(() => {
    let live = true;
    let busy = false;
    const refresh = () => {
      if (busy || document.visibilityState !== 'visible') return;
      busy = true;
      api
        .nodes()
        .then(
          (list) => {
            if (!live) return;
            nodes.value = list;
            readAt.value = new Date().toISOString();
            error.value = '';
          },
          (e: unknown) => {
            if (live) error.value = `The nodes could not be read again: ${describeError(e)}`;
          },
        )
        .finally(() => {
          busy = false;
        });
    };
    const timer = setInterval(refresh, NODES_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);

  const list = nodes.value;
  const sum = (pick: (n: NodeStatus) => number) => list.reduce((total, n) => total + pick(n), 0);
  return (
    <section class="admin-section" aria-labelledby="admin-nodes-title" data-testid="admin-nodes">
      <div class="admin-section-head">
        <h3 id="admin-nodes-title">Nodes</h3>
        <span class="hint">
          Read at <time dateTime={readAt.value}>{formatTime(readAt.value)}</time>, again every {NODES_REFRESH_MS / 1000} s
        </span>
      </div>
      <p class="error" role="alert">
        {error.value}
      </p>
      {list.length === 0 ? (
        <p class="hint">No node has reported its status yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="admin-table">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Connections
                </th>
                <th scope="col" class="num">
                  Messages/s
                </th>
                <th scope="col" class="num">
                  Deliveries/s
                </th>
                <th scope="col" class="num">
                  Jobs/s
                </th>
                <th scope="col" class="num">
                  Event-loop lag
                </th>
                <th scope="col" class="num">
                  Memory (heap)
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((node) => (
                <tr key={node.id} data-testid="admin-node" data-node-id={node.id} data-role={node.role} data-ready={node.ready ? 'true' : 'false'}>
                  <td>
                    <span class="cell-main">
                      {node.id}
                      {node.role === 'worker' && (
                        <>
                          {' '}
                          <span class="badge">worker</span>
                        </>
                      )}
                    </span>
                    <span class="hint" title={`Started ${formatDateTime(node.startedAt)}`}>
                      {node.host} · pid {node.pid} · {node.version}
                    </span>
                  </td>
                  <td>
                    <NodeState node={node} />
                  </td>
                  <td class="num" data-testid="node-connections">
                    {node.connections}
                  </td>
                  <td class="num">{formatRate(node.messagesPerSecond)}</td>
                  <td class="num">{formatRate(node.deliveriesPerSecond)}</td>
                  <td class="num">{formatRate(node.jobsPerSecond)}</td>
                  <td class="num">{formatRate(node.eventLoopLagMs)} ms</td>
                  <td class="num">
                    {formatSize(node.rssBytes)} <span class="hint">({formatSize(node.heapUsedBytes)})</span>
                  </td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr data-testid="admin-nodes-total">
                <th scope="row" colSpan={2}>
                  {describeCount(list)}, {list.filter((n) => n.ready).length} ready
                </th>
                <td class="num" data-testid="nodes-total-connections">
                  {sum((n) => n.connections)}
                </td>
                <td class="num">{formatRate(sum((n) => n.messagesPerSecond))}</td>
                <td class="num">{formatRate(sum((n) => n.deliveriesPerSecond))}</td>
                <td class="num">{formatRate(sum((n) => n.jobsPerSecond))}</td>
                <td colSpan={2} />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  );
}
