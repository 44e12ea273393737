/** A load-generating agent process (bench/agent.ts) and the messages it sends back. */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import type { FromAgent, ToAgent } from './messages.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export class Agent {
  readonly child: ChildProcess;
  /** The last progress the agent reported. */
  progress = { deliveries: 0, sent: 0 };
  #waiters: Array<(m: FromAgent) => boolean> = [];

  constructor() {
    this.child = fork(path.join(ROOT, 'bench', 'agent.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromAgent) => {
      if (m.type === 'progress') this.progress = { deliveries: m.deliveries, sent: m.sent };
      this.#waiters = this.#waiters.filter((w) => !w(m));
    });
  }

  send(m: ToAgent): void {
    this.child.send(m);
  }

  /** The next message of `type` from the agent. */
  next<T extends FromAgent['type']>(type: T, timeoutMs: number): Promise<Extract<FromAgent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent sent no ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((m) => {
        if (m.type !== type) return false;
        clearTimeout(timer);
        resolve(m as Extract<FromAgent, { type: T }>);
        return true;
      });
    });
  }
}
