/** What `parley doctor` reports: one finding per thing checked, in plain words. */
import { withDeadline } from '../adapters/deadline.js';

export type Status = 'ok' | 'warn' | 'fix';

export interface Finding {
  /** What was checked: `store`, `redis maxmemory-policy`, `open files`, … */
  check: string;
  status: Status;
  /** What was found. */
  detail: string;
  /** What to do about it (warn and fix only). */
  remedy?: string;
}

export const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail });
export const warn = (check: string, detail: string, remedy: string): Finding => ({ check, status: 'warn', detail, remedy });
export const fix = (check: string, detail: string, remedy: string): Finding => ({ check, status: 'fix', detail, remedy });

/** How long one dependency may take to answer all of its checks, ms. */
export const CHECK_TIMEOUT_MS = 5_000;

/**
 * Runs one dependency's checks within `timeoutMs`: a dependency that does not answer in time,
 * or fails in a way its check did not foresee, is one `fix` finding naming it, not a crash.
 */
export async function bounded(check: string, timeoutMs: number, run: () => Promise<Finding[]>, reach: string): Promise<Finding[]> {
  try {
    return await withDeadline(run(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
  } catch (error) {
    return [fix(check, `cannot reach it: ${describe(error)}`, reach)];
  }
}

export function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  const e = error as { code?: string; message?: string };
  const message = (e.message ?? String(error)).split('\n')[0] ?? '';
  return e.code !== undefined && !message.includes(e.code) ? `${e.code} ${message}`.trim() : message;
}
