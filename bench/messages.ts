/** What the bench runner and its agent processes tell each other over IPC. */
export type Target = 'parley' | 'socketio';

export interface AgentConnection {
  token: string;
  rooms: string[];
  /** When set, this connection sends to `roomId` at `ratePerSec` once the run starts. */
  send?: { roomId: string; ratePerSec: number };
}

export type ToAgent =
  | { type: 'open'; target: Target; url: string; localAddress: string; connections: AgentConnection[]; openConcurrency: number }
  | { type: 'go'; durationMs: number }
  | { type: 'drop' }
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
  /** Connections that (re)opened and resubscribed after a `drop`, and how long that took (ms). */
  recovered: number;
  recoveryMs: number;
}

export type FromAgent =
  | { type: 'opened'; connections: number; failed: number; error?: string }
  | { type: 'report'; report: AgentReport }
  | { type: 'progress'; deliveries: number; sent: number };
