/** What the bench runner and its agent processes tell each other over IPC. */
/** `socketio-recovery`: Socket.IO with connection-state recovery on its Redis Streams adapter. */
export type Target = 'parley' | 'socketio' | 'socketio-recovery';

export interface AgentConnection {
  token: string;
  rooms: string[];
  /** When set, this connection sends to `roomId` at `ratePerSec` once the run starts. */
  send?: { roomId: string; ratePerSec: number };
  /** The server process this connection goes to, when there are several (Socket.IO); else the agent's. */
  url?: string;
}

export type ToAgent =
  | {
      type: 'open';
      target: Target;
      url: string;
      /**
       * The loopback address the agent reaches the server at (127.0.0.2, .3, …, one per agent).
       * Spreading the destinations, not binding source addresses, gives each agent its own range
       * of ephemeral ports: a bind before connect makes the kernel search ports shared by every
       * source address, which took more CPU than the connections themselves past ~60,000.
       */
      serverAddress: string;
      connections: AgentConnection[];
      openConcurrency: number;
      /** Parley: the `presence` field of every subscribe (omitted when unset, for servers that predate it). */
      presence?: 'full' | 'batch' | 'none';
    }
  /** Starts a measurement: stats restart from zero; senders send at their rate times `rateScale`. */
  | { type: 'go'; durationMs: number; rateScale: number }
  /**
   * Every connection drops at once (its transport closed, as a network failure does) and comes
   * back after a jittered wait, first window `jitterMs`: Parley through the SDK's backoff, then a
   * subscribe with `since`; Socket.IO through its manager's reconnection (its session recovered,
   * or its rooms joined again when it was not).
   */
  | { type: 'drop'; jitterMs: number }
  /**
   * Parley: every connection drops at once, then each reconnects after the SDK's jittered
   * backoff (full jitter, first window `backoffInitialMs`) and resubscribes with `since`.
   */
  | { type: 'storm'; backoffInitialMs: number }
  /** After a drop: every agent's clients are back; the run may end once its duration is over. */
  | { type: 'release' }
  /** Asks for the frame counters (answered with `counts`). */
  | { type: 'counts' }
  | { type: 'stop' };

export interface AgentReport {
  deliveries: number;
  sent: number;
  acked: number;
  sendErrors: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** HDR histogram of send→deliver latency in microseconds, base64-encoded. */
  latency: string;
  /** HDR histogram of send→ack latency (the reply: committed) in microseconds, base64-encoded. */
  ackLatency: string;
}

export type FromAgent =
  /** `connectMs`: for each connection opened, ms from its start to its last subscribe reply. */
  | { type: 'opened'; connections: number; failed: number; connectMs: number[]; error?: string }
  | { type: 'report'; report: AgentReport }
  /**
   * After a drop: for each connection back, ms from the drop to its resumption; `restored`, the
   * Socket.IO sessions the server recovered (the others joined their rooms again).
   */
  | { type: 'recovered'; recovered: number; failed: number; recoveryMs: number; resumeMs: number[]; restored: number; error?: string }
  | { type: 'progress'; deliveries: number; sent: number }
  /** Since the connections opened: `presence` and `presence_batch` frames, all frames, closes the server chose. */
  | { type: 'counts'; presence: number; presenceBatch: number; frames: number; serverCloses: number; closeCodes: Record<string, number> }
  /** After a storm: for each connection back, ms from the drop to its subscribe reply. */
  | { type: 'stormed'; resumeMs: number[]; failed: number; attempts: number; error?: string };
