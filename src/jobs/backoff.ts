/**
 * The wait before a job's next attempt: exponential (`baseMs` doubled per attempt made, capped
 * at `maxMs`) with full jitter, a uniform draw between 0 and that, so that jobs that failed
 * together (an endpoint went down) do not all come back together.
 */
export function backoffDelay(attemptsMade: number, backoff: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
