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

export async function runShutdown(steps: ShutdownStep[], options: { defaultTimeoutMs: number; onError(error: unknown, step: string): void }): Promise<ShutdownReport> {
  const failed: string[] = [];
  for (const step of steps) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs;
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
