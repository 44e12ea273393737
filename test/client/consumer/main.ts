/**
 * A program of a separate project that installed @parley/client from its tarball: it imports the
 * package by name only (exports map, ESM build, type declarations) and runs unchanged under Node
 * and in a browser. Compiled by test/client/package.test.ts with tsc against the installed types
 * (strict, DOM library, no Node types), then run against a live server. It sends and receives,
 * misses messages while disconnected and gets them on resume, pages history, and catches a typed
 * error.
 */
import { type Message, ParleyClient, ParleyError, type StreamEvent } from '@parley/client';

export interface Setup {
  baseUrl: string;
  /** Session tokens of two members of the room. */
  alice: string;
  bob: string;
  roomId: string;
}

export interface Outcome {
  /** Bodies Bob received while connected. */
  live: string[];
  /** Bodies Bob received after reconnecting: the ones sent while he was away. */
  resumed: string[];
  /** The seq of every stream event Bob received, in order. */
  seqs: number[];
  /** Bob's last seq when he went away, and the one after resuming. */
  lastSeqAway: number | undefined;
  lastSeqBack: number | undefined;
  /** Message bodies of the room's history, oldest first. */
  history: string[];
  /** What an empty message is refused with. */
  error: { isParleyError: boolean; name: string; code: string; status: number; source: string };
}

export async function run(setup: Setup): Promise<Outcome> {
  // The WebSocket is the platform's own: a browser's, or Node's global one.
  const options = { baseUrl: setup.baseUrl, backoff: { initialMs: 50, maxMs: 500 }, requestTimeoutMs: 5000 };
  const alice = new ParleyClient({ ...options, token: setup.alice });
  const bob = new ParleyClient({ ...options, token: setup.bob });
  const seen: StreamEvent[] = [];
  bob.on('event', (event) => {
    seen.push(event);
  });
  try {
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.subscribe(setup.roomId);
    await bob.subscribe(setup.roomId);

    const sent: Message[] = [await alice.send(setup.roomId, 'hello from the package'), await alice.send(setup.roomId, 'second')];
    await until(() => received(seen, sent), 'live delivery');
    const live = bodies(seen);

    // Bob drops his connection; what Alice sends meanwhile reaches him when he reconnects.
    await bob.close();
    const lastSeqAway = bob.lastSeq(setup.roomId);
    const missed = [await alice.send(setup.roomId, 'while away 1'), await alice.send(setup.roomId, 'while away 2')];
    await bob.connect();
    await until(() => received(seen, missed), 'the resumed events');
    const resumed = bodies(seen).slice(live.length);

    const page = await bob.rest.history(setup.roomId, { limit: 50 });
    const history = page.messages.map((m) => m.body).reverse();

    let error: Outcome['error'] | undefined;
    try {
      await bob.send(setup.roomId, '');
    } catch (caught) {
      if (!(caught instanceof ParleyError)) throw caught;
      error = { isParleyError: true, name: caught.name, code: caught.code, status: caught.status, source: caught.source };
    }
    if (error === undefined) throw new Error('an empty message was accepted');
    return { live, resumed, seqs: seen.map((e) => e.seq), lastSeqAway, lastSeqBack: bob.lastSeq(setup.roomId), history, error };
  } finally {
    await Promise.all([alice.close(), bob.close()]);
  }
}

function received(seen: StreamEvent[], messages: Message[]): boolean {
  return messages.every((m) => seen.some((e) => e.seq === m.seq));
}

function bodies(events: StreamEvent[]): string[] {
  return events.flatMap((e) => (e.message === undefined ? [] : [e.message.body]));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
