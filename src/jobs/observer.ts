/** How a run of a job ended, as the job backends report it (metrics, logs). */
export type RunOutcome = 'completed' | 'retry' | 'dead' | 'released' | 'lost';

export interface JobObserver {
  /** A run ended: `seconds` from its start. `lost`: its lease was lost, another process runs it. */
  ran(queue: string, outcome: RunOutcome, seconds: number): void;
}

export const NO_OBSERVER: JobObserver = { ran: () => undefined };
