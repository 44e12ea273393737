/**
 * One attacker of the attack soak (bench/attack.ts), in a process of its own: runs its attack in
 * a loop until the deadline, then reports what the server answered (by status class) on stdout
 * as one JSON line. Every attack is one the server must absorb without slowing anyone else:
 *
 *   search     searches of a one-letter prefix over a 25,000-message room, two at a time
 *   typing     typing notices for random room ids, at the frame rate limit, on ten connections
 *   presence   a user in many of the victim's rooms reconnecting in a loop
 *   slowloris  hundreds of POST bodies trickled a byte at a time
 *   hoard      connections of one user past the per-user limit
 *   flood      4000-emoji messages into many rooms, at the send rate limit
 *   garbage    bad input of every kind: NUL, lone surrogates, bad escapes, huge params, foreign origins
 *   race       leave and subscribe fired together, again and again
 */
import { connect as tcp, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

interface Job {
  attack: string;
  url: string;
  deadline: number;
  tokens: string[];
  rooms: string[];
  bigRoom: string;
  usernames: string[];
}

const job = JSON.parse(process.argv[2] as string) as Job;
const statuses: Record<string, number> = {};
const count = (what: string) => {
  statuses[what] = (statuses[what] ?? 0) + 1;
};
const running = () => Date.now() < job.deadline;
const wsUrl = `${job.url.replace(/^http/, 'ws')}/ws`;

async function call(method: string, route: string, token: string | null, body?: string, headers: Record<string, string> = {}): Promise<void> {
  try {
    const res = await fetch(`${job.url}${route}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    count(`${Math.floor(res.status / 100)}xx`);
  } catch {
    count('no answer');
  }
}

function open(token: string): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      count(`upgrade ${res.statusCode}`);
      resolve(null);
    });
    ws.once('error', () => resolve(null));
    ws.on('close', (code) => count(`close ${code}`));
  });
}

const token = (i = 0) => job.tokens[i % job.tokens.length] as string;
const randomId = () => Math.random().toString(36).slice(2, 24);

const attacks: Record<string, () => Promise<void>> = {
  async search() {
    await Promise.all(
      [0, 1].map(async (i) => {
        while (running()) await call('GET', `/api/v1/search?q=${i === 0 ? 'a' : 'e'}&limit=100`, token(i));
      }),
    );
  },
  async typing() {
    const sockets = (await Promise.all(Array.from({ length: 10 }, (_, i) => open(token(i))))).filter((s): s is WebSocket => s !== null);
    while (running()) {
      for (const ws of sockets) if (ws.readyState === ws.OPEN) for (let k = 0; k < 5; k++) ws.send(JSON.stringify({ type: 'typing', roomId: randomId() }));
      count('typing x50');
      await sleep(110);
    }
    for (const ws of sockets) ws.close();
  },
  async presence() {
    while (running()) {
      const ws = await open(token());
      if (ws !== null) {
        count('reconnect');
        ws.close();
        await new Promise((r) => ws.once('close', r));
      } else {
        await sleep(50);
      }
    }
  },
  async slowloris() {
    const sockets: Socket[] = [];
    const { hostname, port } = new URL(job.url);
    for (let i = 0; i < 400 && running(); i++) {
      const socket = tcp({ host: hostname, port: Number(port) });
      socket.on('error', () => count('slowloris socket error'));
      socket.on('close', () => count('slowloris closed by server'));
      socket.write(`POST /api/v1/rooms/${job.rooms[0]}/messages HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token()}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
      sockets.push(socket);
      if (i % 50 === 0) await sleep(20);
    }
    while (running()) {
      for (const s of sockets) if (!s.destroyed) s.write(' ');
      await sleep(5_000);
    }
    for (const s of sockets) s.destroy();
  },
  async hoard() {
    const held: WebSocket[] = [];
    while (running()) {
      const ws = await open(token());
      if (ws !== null) held.push(ws);
      await sleep(held.length > 40 ? 500 : 20);
    }
    count(`held ${held.length}`);
    for (const ws of held) ws.close();
  },
  async flood() {
    // Subscribed, so every room is open on the node and keeps its recent events in memory.
    const ws = await open(token());
    for (const [i, roomId] of job.rooms.entries()) ws?.send(JSON.stringify({ id: i + 1, type: 'subscribe', roomId }));
    const body = JSON.stringify({ body: '😀'.repeat(4000) });
    while (running()) {
      await Promise.all(job.rooms.map((roomId, i) => call('POST', `/api/v1/rooms/${roomId}/messages`, token(i), body)));
      await sleep(1000);
    }
    ws?.close();
  },
  async garbage() {
    const room = job.rooms[0] as string;
    while (running()) {
      await call('POST', `/api/v1/rooms/${room}/messages`, token(), JSON.stringify({ body: 'nul \u0000 inside' }));
      await call('POST', `/api/v1/rooms/${room}/messages`, token(), '{"body":"lone \\ud800 surrogate","clientMsgId":"\\udc00"}');
      await call('POST', '/api/v1/rooms', token(), JSON.stringify({ name: '\u202Egnp.exe', visibility: 'public' }));
      await call('GET', `/api/v1/rooms/${'x'.repeat(5000)}`, token());
      await call('GET', '/api/v1/rooms/%E0%A4%A', token());
      await call('POST', `/api/v1/rooms/${room}/leave`, null, undefined, { cookie: `parley_session=${token()}`, origin: 'http://evil.example', 'content-type': 'text/plain' });
      await call('POST', '/api/v1/auth/register', null, JSON.stringify({ username: randomId(), password: 'correct horse battery', displayName: job.usernames[0] }));
      await call('GET', '/api/v1/search?q=%00&limit=1e400', token());
    }
  },
  async race() {
    const ws = await open(token());
    if (ws === null) return;
    let id = 1;
    while (running()) {
      const roomId = job.bigRoom;
      ws.send(JSON.stringify({ id: id++, type: 'subscribe', roomId }));
      await call('POST', `/api/v1/rooms/${roomId}/leave`, token(), undefined);
      await call('POST', `/api/v1/rooms/${roomId}/join`, token(), undefined);
      await sleep(20);
    }
    ws.close();
  },
};

const attack = attacks[job.attack];
if (attack === undefined) throw new Error(`unknown attack ${job.attack}`);
await attack();
process.stdout.write(`${JSON.stringify({ attack: job.attack, statuses })}\n`);
process.exit(0);
