/**
 * A client that sends messages one after another on a raw WebSocket and keeps to the letter of
 * docs/protocol.md, for tests of restarts and reloads under traffic: a send is sent again, with
 * the same clientMsgId, only where the protocol says so (an `unavailable` reply, or a connection
 * closed with 1012 before the reply), and an upgrade answered 503 `unavailable` is tried again
 * (a draining server's answer, see UpgradeRefused); anything else is recorded as a failure, never hidden by a
 * retry. No SDK in between: its reconnects would hide a refused connection.
 */
import WebSocket from 'ws';

/** What went wrong with a connection or a request, with the system error's code (ECONNREFUSED...). */
export function refusal(error: unknown): string {
  const e = error as Error & { code?: string; cause?: { code?: string } };
  return `${e.message} (${e.code ?? e.cause?.code ?? 'no code'})`;
}

/** An upgrade answered in plain HTTP instead of 101, with what the answer said. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly code: string | null;

  constructor(status: number, retryAfter: string | null, body: string) {
    let code: string | null = null;
    try {
      code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null;
    } catch {
      // not the error shape: code stays null, and the failure says so
    }
    super(`upgrade answered ${status} ${code ?? body.slice(0, 80)}`);
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = code;
  }

  /**
   * A draining server answers 503 `unavailable` with Retry-After to an upgrade that reached it
   * as it stopped accepting: the protocol's "retry with backoff", not a refused connection.
   */
  get retryable(): boolean {
    return this.status === 503 && this.code === 'unavailable' && this.retryAfter !== null;
  }
}

/** A WebSocket, open; `localAddress` picks the source address (any of 127.0.0.0/8 on loopback). */
export function open(url: string, token: string, localAddress?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, localAddress === undefined ? {} : { localAddress });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no upgrade within 10 s'));
    }, 10_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        ws.terminate();
        const retryAfter = res.headers['retry-after'];
        reject(new UpgradeRefused(res.statusCode ?? 0, typeof retryAfter === 'string' ? retryAfter : null, body));
      });
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

type Outcome = { kind: 'reply'; frame: { ok: boolean; message?: { seq: number }; error?: { code: string } } } | { kind: 'closed'; code: number } | { kind: 'timeout' };

export class SendingClient {
  readonly acked: Array<{ clientMsgId: string; seq: number }> = [];
  /** Connections refused, sends that failed, connections closed other than by a restart (1012). */
  readonly failures: string[] = [];
  /** Why each send (or upgrade) the protocol allows to repeat was sent again. */
  readonly retries: string[] = [];
  readonly #url: string;
  readonly #token: string;
  readonly #roomId: string;
  readonly #name: string;
  #ws: WebSocket | null = null;
  #sending = false;
  #nextId = 1;

  constructor(url: string, token: string, roomId: string, name: string) {
    this.#url = url;
    this.#token = token;
    this.#roomId = roomId;
    this.#name = name;
  }

  /**
   * Opens a new WebSocket, pings it and closes it. Resolves with 'pong', or with why the
   * protocol says to connect again (a draining server's 503 to the upgrade, or a 1012 close
   * before it read the ping); rejects on anything else (a refused connection above all).
   */
  static async probe(url: string, token: string, localAddress?: string): Promise<string> {
    let ws: WebSocket;
    try {
      ws = await open(url, token, localAddress);
    } catch (error) {
      if (error instanceof UpgradeRefused && error.retryable) return 'upgrade answered 503 unavailable';
      throw error;
    }
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no pong within 10 s')), 10_000);
        ws.on('message', (data) => {
          if ((JSON.parse(data.toString()) as { type?: string }).type === 'pong') {
            clearTimeout(timer);
            resolve('pong');
          }
        });
        ws.once('close', (code) => {
          clearTimeout(timer);
          if (code === 1012) resolve('closed 1012 before the pong');
          else reject(new Error(`closed with ${code} before the pong`));
        });
        ws.send(JSON.stringify({ type: 'ping' }));
      });
    } finally {
      ws.removeAllListeners('close');
      ws.close();
    }
  }

  /** Sends until `stopped()`, each message until it is acknowledged or has failed. */
  async run(stopped: () => boolean): Promise<void> {
    for (let i = 0; !stopped(); i++) {
      await this.#deliver(`${this.#name}-${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ws = this.#ws;
    this.#ws = null;
    ws?.close();
  }

  async #deliver(clientMsgId: string): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ws = await this.#connection();
      if (ws === null) continue;
      const outcome = await this.#send(ws, clientMsgId);
      if (outcome.kind === 'reply' && outcome.frame.ok) {
        this.acked.push({ clientMsgId, seq: outcome.frame.message?.seq ?? -1 });
        return;
      }
      if (outcome.kind === 'reply' && outcome.frame.error?.code === 'unavailable') {
        this.retries.push('unavailable');
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (outcome.kind === 'closed' && outcome.code === 1012) {
        this.retries.push('closed 1012 before the reply');
        continue;
      }
      this.failures.push(`${clientMsgId}: ${outcome.kind === 'reply' ? `error ${JSON.stringify(outcome.frame.error)}` : outcome.kind === 'closed' ? `connection closed with ${outcome.code} before the reply` : 'no reply within 10 s'}`);
      return;
    }
    this.failures.push(`${clientMsgId}: not acknowledged after 20 attempts`);
  }

  /** The open connection, or a new one; null (the failure recorded) when it could not be opened. */
  async #connection(): Promise<WebSocket | null> {
    if (this.#ws?.readyState === WebSocket.OPEN) return this.#ws;
    try {
      const ws = await open(this.#url, this.#token);
      // Closed between sends (a close during one is the send's outcome): only a restart (1012)
      // may do that.
      ws.on('close', (code) => {
        if (code !== 1012 && this.#ws === ws && !this.#sending) this.failures.push(`connection closed with ${code} while idle`);
      });
      this.#ws = ws;
      return ws;
    } catch (error) {
      if (error instanceof UpgradeRefused && error.retryable) this.retries.push('upgrade answered 503 unavailable');
      else this.failures.push(refusal(error));
      await new Promise((r) => setTimeout(r, 200));
      return null;
    }
  }

  #send(ws: WebSocket, clientMsgId: string): Promise<Outcome> {
    const id = this.#nextId++;
    this.#sending = true;
    return new Promise((resolve) => {
      const done = (outcome: Outcome) => {
        this.#sending = false;
        clearTimeout(timer);
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(outcome);
      };
      const onMessage = (data: WebSocket.RawData) => {
        const frame = JSON.parse(data.toString()) as { type?: string; id?: number } & Extract<Outcome, { kind: 'reply' }>['frame'];
        if (frame.type === 'reply' && frame.id === id) done({ kind: 'reply', frame });
      };
      const onClose = (code: number) => done({ kind: 'closed', code });
      const timer = setTimeout(() => done({ kind: 'timeout' }), 10_000);
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.send(JSON.stringify({ id, type: 'send', roomId: this.#roomId, body: `message ${clientMsgId}`, clientMsgId }));
    });
  }
}
