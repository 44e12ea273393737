/** What the bench runner and its agent processes tell each other over IPC. */
export type Target = 'parley' | 'socketio';

export interface AgentConnection {
  token: string;
  rooms: string[];
  /** When set, this connection sends to `roomId` at `ratePerSec` once the run starts. */
  send?: { roomId: string; ratePerSec: number };
}

export type ToAgent =
  | {
      type: 'open';
      target: Target;
      url: string;
      localAddress: string;
      connections: AgentConnection[];
      openConcurrency: number;
      /** Parley: the `presence` field of every subscribe (omitted when unset, for servers that predate it). */
      presence?: 'full' | 'batch' | 'none';
    }
  /** Starts a measurement: stats restart from zero; senders send at their rate times `rateScale`. */
  | { type: 'go'; durationMs: number; rateScale: number }
  | { type: 'drop' }
  /**
   * Parley: every connection drops at once, then each reconnects after the SDK's jittered
   * backoff (full jitter, first window `backoffInitialMs`) and resubscribes with `since`.
   */
  | { type: 'storm'; backoffInitialMs: number }
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
  | { type: 'opened'; connections: number; failed: number; error?: string }
  | { type: 'report'; report: AgentReport }
  | { type: 'recovered'; recovered: number; failed: number; recoveryMs: number }
  | { type: 'progress'; deliveries: number; sent: number }
  /** Since the connections opened: `presence` and `presence_batch` frames, all frames, closes the server chose. */
  | { type: 'counts'; presence: number; presenceBatch: number; frames: number; serverCloses: number; closeCodes: Record<string, number> }
  /** After a storm: for each connection back, ms from the drop to its subscribe reply. */
  | { type: 'stormed'; resumeMs: number[]; failed: number; attempts: number; error?: string };
