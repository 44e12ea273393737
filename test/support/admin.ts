/** Server administration in tests: making an administrator, a dead job, and `parley admin` against a running node. */
import { runAdminCommand } from '../../src/admin/cli.js';
import { openAdminConsole } from '../../src/admin/console.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { newId } from '../../src/domain/ids.js';
import { EXPORT_QUEUE } from '../../src/exports/exports.js';
import { createLogger } from '../../src/observability/log.js';
import type { TestServer } from './server.js';

export async function makeAdmin(server: TestServer, userId: string): Promise<void> {
  if (!(await server.parley.services.store.setServerRole(userId, 'admin', Date.now()))) throw new Error(`no user ${userId}`);
}

/**
 * An export job that dies on its first run (its owner is no member of the room): the job backend
 * keeps it dead, with its error. Answers its id once it is dead.
 */
export async function makeDeadJob(server: TestServer, userId: string, roomId: string): Promise<string> {
  const { store, jobs } = server.parley.services;
  const exportId = newId();
  await store.createExport({ id: exportId, roomId, userId, format: 'ndjson', state: 'queued', throughSeq: 1, doneSeq: 0, messages: 0, bytes: 0, error: null, createdAt: Date.now(), finishedAt: null, expiresAt: null });
  const { id } = await jobs.enqueue(EXPORT_QUEUE, { exportId }, { attempts: 1 });
  const deadline = Date.now() + 30_000;
  while (!(await jobs.deadLetters(EXPORT_QUEUE, 1_000)).some((d) => d.id === id)) {
    if (Date.now() > deadline) throw new Error(`job ${id} is not dead after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return id;
}

export interface ConsoleRun {
  code: number;
  out: Array<Record<string, unknown>>;
  err: string;
}

/** `parley admin <args>` as the console runs it, against the node's configuration and store; `secret` is what stdin gives. */
export async function adminConsole(server: TestServer, args: string[], secret?: string): Promise<ConsoleRun> {
  const store = server.parley.services.store as StoreWithJobs;
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdminCommand(args, {
    store,
    openConsole: () => openAdminConsole(server.parley.config, createLogger('error', 'json'), store),
    readSecret: async () => secret ?? '',
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.map((l) => JSON.parse(l) as Record<string, unknown>), err: err.join('\n') };
}
