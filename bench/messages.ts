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
  /** Starts a measurement: stats restart from zero; senders send at their rate times `rateScale`. */
  | { type: 'go'; durationMs: number; rateScale: number }
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
}

export type FromAgent =
  | { type: 'opened'; connections: number; failed: number; error?: string }
  | { type: 'report'; report: AgentReport }
  | { type: 'recovered'; recovered: number; failed: number; recoveryMs: number }
  | { type: 'progress'; deliveries: number; sent: number };
