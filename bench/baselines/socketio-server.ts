/**
 * The Socket.IO 4 baseline: the same job as Parley's hot path, done as honestly as Socket.IO
 * allows. Clients authenticate with a token in the handshake, join rooms, and send messages
 * acknowledged once stored; every message gets the room's next seq and is broadcast to the room
 * (`io.to(room).emit`). With REDIS_URL the @socket.io/redis-adapter carries broadcasts between
 * processes; with DATABASE_URL each message is one INSERT into PostgreSQL before the ack and the
 * broadcast, as a Socket.IO chat app persists. Seqs are counted per room in this process (a
 * Socket.IO deployment of several processes has no such order: run several, the bench sends
 * through one of them).
 *
 * With RECOVERY=1 (and REDIS_URL) it is Socket.IO's recoverable configuration: connection-state
 * recovery (a client that lost its transport gets its session, rooms and missed packets back
 * within two minutes) on the Redis Streams adapter, which keeps every broadcast in a stream
 * (`STREAM_NAME`, up to `STREAM_MAX_LEN` entries) that the sessions are restored from.
 *
 *   PORT=4000 [REDIS_URL=…] [RECOVERY=1 STREAM_NAME=…] [DATABASE_URL=…] npx tsx bench/baselines/socketio-server.ts
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 4000);
const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.url === '/stats') {
    const m = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, connections: io.engine.clientsCount }));
    return;
  }
  res.writeHead(404).end();
});
const recovery = process.env.RECOVERY === '1';
if (recovery && !process.env.REDIS_URL) throw new Error('RECOVERY=1 needs REDIS_URL (the Redis Streams adapter)');
const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  // Socket.IO's documented defaults for recovery: two minutes, the middlewares not run again.
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } } : {}),
});

if (process.env.REDIS_URL) {
  const pub = new Redis(process.env.REDIS_URL);
  if (recovery) {
    io.adapter(createStreamsAdapter(pub, { streamName: process.env.STREAM_NAME ?? 'socket.io', maxLen: Number(process.env.STREAM_MAX_LEN ?? 100_000), onlyPlaintext: true }));
  } else {
    io.adapter(createAdapter(pub, pub.duplicate()));
  }
}

const db = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL, user: process.env.PGUSER ?? 'postgres', max: 10 }) : null;
if (db !== null) {
  await db.query(`CREATE TABLE IF NOT EXISTS sio_messages (
    room_id TEXT NOT NULL, seq BIGINT NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL, client_msg_id TEXT, created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq))`);
}
/** Per-room seq without a database. */
const seqs = new Map<string, number>();

io.use((socket, next) => {
  const token = socket.handshake.auth?.token;
  if (typeof token !== 'string' || token === '') return next(new Error('unauthorized'));
  socket.data.user = token;
  next();
});

io.on('connection', (socket) => {
  socket.on('join', (roomId: unknown, ack: unknown) => {
    if (typeof roomId !== 'string' || typeof ack !== 'function') return;
    void socket.join(roomId);
    ack({ ok: true });
  });
  socket.on('send', async (msg: { roomId?: unknown; body?: unknown; clientMsgId?: unknown }, ack: unknown) => {
    if (typeof ack !== 'function') return;
    if (typeof msg?.roomId !== 'string' || typeof msg.body !== 'string') {
      ack({ ok: false, error: 'validation_failed' });
      return;
    }
    // One process: the room's next seq is counted here, and stored with the message.
    const seq = (seqs.get(msg.roomId) ?? 0) + 1;
    seqs.set(msg.roomId, seq);
    if (db !== null) {
      await db.query('INSERT INTO sio_messages (room_id, seq, author, body, client_msg_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        msg.roomId,
        seq,
        socket.data.user,
        msg.body,
        typeof msg.clientMsgId === 'string' ? msg.clientMsgId : null,
        Date.now(),
      ]);
    }
    const event = { roomId: msg.roomId, seq, body: msg.body, author: socket.data.user };
    io.to(msg.roomId).emit('event', event);
    ack({ ok: true, seq });
  });
});

// Every address, as the Parley server under test listens: the load generator's agents each reach
// it at a loopback address of their own. A baseline for benchmarks on one machine, not a service.
http.listen(port, '0.0.0.0', () => console.log(JSON.stringify({ msg: 'socket.io baseline listening', port })));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    io.close();
    void db?.end();
    process.exit(0);
  });
}
