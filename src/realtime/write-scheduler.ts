/**
 * Coalesces writes: frames queued for a socket leave in one corked write (one writev syscall)
 * when the process flushes, at the end of the event-loop turn they were queued in, or, with a
 * flush window (WS_FLUSH_MS), up to that many milliseconds later, so the frames of several
 * turns share a syscall. Measured, one syscall per delivery caps a core near 100–125k
 * deliveries/s; ten frames per write reach 0.5–1M. The window trades latency (at most the
 * window, on every frame, replies included) for fewer syscalls under load: docs/benchmarks.md
 * has the curve.
 */
export interface Flushable {
  flush(): void;
}

const dirty = new Set<Flushable>();
let scheduled = false;
let windowMs = 0;
let socketWrites = 0;

/** A connection wrote its queued frames to its socket (one write, one syscall at most). */
export function countSocketWrite(): void {
  socketWrites++;
}

/** Socket writes of queued frames in this process so far (parley_ws_socket_writes_total). */
export function socketWritesSoFar(): number {
  return socketWrites;
}

function flushAll(): void {
  scheduled = false;
  for (const target of dirty) {
    dirty.delete(target);
    target.flush();
  }
}

/** The flush window of this process, ms: 0 flushes at the end of each turn. */
export function setFlushWindow(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`flush window must be a whole number of ms, got ${ms}`);
  windowMs = ms;
}

export function scheduleFlush(target: Flushable): void {
  dirty.add(target);
  if (scheduled) return;
  scheduled = true;
  if (windowMs === 0) setImmediate(flushAll);
  else setTimeout(flushAll, windowMs);
}
