/**
 * An ordered shutdown that always runs to the end: each step runs after the previous one settled,
 * a step that fails is reported and the next one still runs, and a step that hangs is given up on
 * after its deadline (its work may go on in the background; the process deadline ends it). So one
 * rejected promise can never leave the store, Redis or the bus open.
 */
export interface ShutdownStep {
  name: string;
  run(): Promise<unknown> | unknown;
  /** Longest wait for this step, ms. */
  timeoutMs?: number;
}

export interface ShutdownReport {
  /** Steps that failed or timed out, by name. */
  failed: string[];
}

/** Time kept for each step still to come when an earlier one runs long, ms. */
const RESERVED_PER_STEP_MS = 100;

export interface ShutdownOptions {
  defaultTimeoutMs: number;
  /**
   * When everything must be done (epoch ms): a step is given no more than what is left, less
   * a little for each step after it, so the last steps (closing the store) still run.
   */
  deadlineAt?: number;
  onError(error: unknown, step: string): void;
}

export async function runShutdown(steps: ShutdownStep[], options: ShutdownOptions): Promise<ShutdownReport> {
  const failed: string[] = [];
  for (const [i, step] of steps.entries()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const wanted = step.timeoutMs ?? options.defaultTimeoutMs;
      const left = options.deadlineAt === undefined ? wanted : options.deadlineAt - Date.now() - RESERVED_PER_STEP_MS * (steps.length - i - 1);
      const timeoutMs = Math.max(RESERVED_PER_STEP_MS / 2, Math.min(wanted, left));
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`shutdown step "${step.name}" did not finish within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([Promise.resolve().then(() => step.run()), deadline]);
    } catch (error) {
      failed.push(step.name);
      options.onError(error, step.name);
    } finally {
      clearTimeout(timer);
    }
  }
  return { failed };
}
