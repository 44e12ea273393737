/** What the cluster primary and its workers tell each other (besides the IPC bus). */
export type SupervisorMessage =
  | { parley: 'supervisor'; type: 'ready'; url: string }
  | { parley: 'supervisor'; type: 'shutdown' };

export const isSupervisorMessage = (m: unknown): m is SupervisorMessage =>
  typeof m === 'object' && m !== null && (m as { parley?: unknown }).parley === 'supervisor';
