/**
 * What the worker-thread pool runs (pool.ts): each task is a pure function of its input,
 * loaded in every thread of the pool. The pool's entry point: Piscina calls the default export
 * with a TaskCall. A task may be async (it returns a promise, which Piscina awaits in the thread).
 */
import type { MessageRecord } from '../domain/types.js';
import { messageView } from '../domain/views.js';
import { type ExportFormat, renderPage } from '../exports/render.js';
import { processImageFile } from '../files/image-processing.js';
import type { ProcessImageInput, ProcessImageOutput } from '../files/images.js';

export const TASKS = {
  /** One page of an export, rendered (the wire shape of each message, then NDJSON or escaped HTML). */
  'render-export-page': (input: { format: ExportFormat; messages: MessageRecord[] }): string => renderPage(input.format, input.messages.map(messageView)),
  /** An uploaded image checked, stripped and re-encoded, with its thumbnail (src/files/images.ts; call it through processImage there). */
  'process-image': (input: ProcessImageInput): Promise<ProcessImageOutput> => processImageFile(input),
} as const;

export type TaskName = keyof typeof TASKS;
export type TaskInput<N extends TaskName> = Parameters<(typeof TASKS)[N]>[0];
/** What a task resolves with: an async task's promise is awaited in its thread, and its value copied back. */
export type TaskOutput<N extends TaskName> = Awaited<ReturnType<(typeof TASKS)[N]>>;
export interface TaskCall {
  name: TaskName;
  input: unknown;
}

export default function run(call: TaskCall): unknown {
  const task = TASKS[call.name] as ((input: unknown) => unknown) | undefined;
  if (task === undefined) throw new Error(`no task ${String(call.name)}`);
  return task(call.input);
}
