/**
 * A TCP proxy for fault tests: forwards to a target until `blackhole()`, after which the
 * connections it holds stay open but carry nothing either way, the failure that looks healthy
 * from both ends. New connections made after that are forwarded normally.
 *
 * `cut()` is the plain failure: every connection is reset, and new ones are refused (closed at
 * once) until `restore()`.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

export class BlackholeProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket; dead: boolean }>();
  #refusing = false;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#refusing) {
        client.on('error', () => undefined);
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      const pair = { client, upstream, dead: false };
      this.#pairs.add(pair);
      client.on('data', (d) => {
        if (!pair.dead) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!pair.dead) client.write(d);
      });
      const end = () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
  }

  static async start(targetPort: number): Promise<BlackholeProxy> {
    const proxy = new BlackholeProxy(targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  /** Every connection open now goes silent; returns how many. */
  blackhole(): number {
    for (const pair of this.#pairs) pair.dead = true;
    return this.#pairs.size;
  }

  /** Resets every connection open now, and refuses new ones until `restore()`; returns how many were reset. */
  cut(): number {
    this.#refusing = true;
    const n = this.#pairs.size;
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    return n;
  }

  restore(): void {
    this.#refusing = false;
  }

  async stop(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
