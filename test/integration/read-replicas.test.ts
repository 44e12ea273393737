/**
 * Parley on a PostgreSQL primary with a real streaming replica (initdb, then pg_basebackup -R),
 * both servers of the test's own (DATABASE_REPLICA_URLS).
 *
 * What must hold:
 * - history, threads, member lists, room lists, public rooms and search are served by the
 *   replica once it holds the reader's writes;
 * - read-your-writes, with the replica's replay paused (so it really lags): the writer's reads,
 *   reads that run to the head of the stream, and reads naming a `seen` seq the replica lacks go
 *   to the primary and include the write, while a page before it is still served by the replica;
 * - the lag is a metric; a replica lagging past the bound leaves the rotation, and comes back
 *   when it catches up;
 * - the replica stopped and started again under traffic: not one request fails, its reads move
 *   to the primary and back, and every acknowledged message is in history, once;
 * - two nodes sharing Redis: a user whose write one node took reads it through the other while
 *   the replica lags (the write's mark is in the shared cache).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseLsn, serverName } from '../../src/adapters/sql/postgres-replicas.js';
import { type Sample, scrape, total } from '../support/metrics.js';
import { type PostgresCluster, requirePostgresBinaries, startPostgresCluster } from '../support/pg-cluster.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { until } from '../support/files.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';

// Generous: with replay paused, the reads that must still find the replica in rotation have this long.
const MAX_LAG_MS = 6_000;
const PROBE_MS = 50;


if (requirePostgresBinaries('read replicas') && (await requireRedis('read replicas'))) {
  describe('Parley with a PostgreSQL read replica', () => {
    let primary: PostgresCluster;
    let replica: PostgresCluster;
    let server: TestServer;
    let replicaAdmin: pg.Client;
    let name: string;
    const prefix = redisPrefix();

    const routes = async (node = server): Promise<Sample[]> => scrape(node.url);
    const routed = (samples: Sample[], route: string) => total(samples, 'parley_db_routed_reads_total', { route });
    const inRotation = async (node = server) => total(await routes(node), 'parley_db_replica_in_rotation', { replica: name }) === 1;
    /** The replica holds everything the primary has now, and the node serves `user`'s reads from it. */
    const caughtUp = async (user: TestUser, node = server) => {
      const admin = new pg.Client({ connectionString: primary.url });
      await admin.connect();
      const target = parseLsn((await admin.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0');
      await admin.end();
      await until('the replica replays up to the primary', async () => {
        const row = (await replicaAdmin.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0];
        return row !== undefined && parseLsn(row.lsn) >= target;
      });
      await until('a read of the user is served by the replica', async () => {
        const before = routed(await routes(node), 'replica');
        assert.equal((await api(node.url, 'GET', '/api/v1/rooms', { token: user.token })).status, 200);
        return routed(await routes(node), 'replica') > before;
      });
    };
    const nodeConfig = () => ({
      DATABASE_URL: primary.url,
      DATABASE_REPLICA_URLS: [replica.url],
      DATABASE_REPLICA_PROBE_MS: PROBE_MS,
      DATABASE_REPLICA_MAX_LAG_MS: MAX_LAG_MS,
      DATABASE_STATEMENT_TIMEOUT_MS: 2_000,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      SEND_RATE_PER_SEC: 10_000,
      SEND_BURST: 10_000,
    });

    before(async () => {
      primary = await startPostgresCluster();
      replica = await startPostgresCluster({ replicaOf: primary });
      name = serverName(replica.url);
      replicaAdmin = new pg.Client({ connectionString: replica.url });
      await replicaAdmin.connect();
      server = await startTestServer(nodeConfig());
    });

    after(async () => {
      await server?.stop();
      await replicaAdmin?.end().catch(() => undefined);
      await replica?.stop();
      await primary?.stop();
    });

    let owner: TestUser;
    let reader: TestUser;
    let roomId: string;

    it('serves history, threads, members, room lists, public rooms and search from the replica', async () => {
      owner = await registerUser(server.url, 'rpo');
      reader = await registerUser(server.url, 'rpr');
      roomId = await createRoom(server.url, owner, 'public', 'replicated');
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: reader.token })).status, 200);
      for (let i = 0; i < 5; i++) {
        const sent = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: `heron ${i}` } });
        assert.equal(sent.status, 201);
      }
      await caughtUp(reader);
      const before = routed(await routes(), 'replica');
      const history = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=10`, { token: reader.token });
      assert.equal(history.status, 200);
      assert.deepEqual(
        (history.body.messages as Array<{ body: string }>).map((m) => m.body).filter((b) => b.startsWith('heron')),
        ['heron 4', 'heron 3', 'heron 2', 'heron 1', 'heron 0'],
      );
      const rootSeq = (history.body.messages as Array<{ seq: number }>).at(-1)?.seq as number;
      assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${roomId}/threads/${rootSeq}`, { token: reader.token })).status, 200);
      const members = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/members`, { token: reader.token });
      assert.equal((members.body.members as unknown[]).length, 2);
      const rooms = await api(server.url, 'GET', '/api/v1/rooms', { token: reader.token });
      assert.ok((rooms.body.rooms as Array<{ id: string }>).some((r) => r.id === roomId));
      assert.equal((await api(server.url, 'GET', '/api/v1/rooms/public?q=replicated', { token: reader.token })).status, 200);
      const found = await searchFresh(server.url, '/api/v1/search?q=heron', reader.token);
      assert.equal((found.body.hits as unknown[]).length, 5);
      const samples = await routes();
      // history and its reactions, the thread and its reactions, members, rooms, public rooms, search and its reactions
      assert.ok(routed(samples, 'replica') - before >= 8, `replica reads: ${routed(samples, 'replica') - before}`);
      assert.ok(total(samples, 'parley_db_replica_lag_seconds', { replica: name }) < 1);
    });

    it('reads the writer\'s own writes, the head of the stream and a seen seq from the primary while the replica lags', async () => {
      await caughtUp(reader);
      await replicaAdmin.query('SELECT pg_wal_replay_pause()');
      try {
        const sent = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: 'egret after the pause' } });
        assert.equal(sent.status, 201);
        const seq = (sent.body.message as { seq: number }).seq;
        const has = (page: { body: Record<string, unknown> }) => (page.body.messages as Array<{ seq: number }>).some((m) => m.seq === seq);
        let samples = await routes();
        const counts = () => ({ replica: routed(samples, 'replica'), own: routed(samples, 'own_write'), behind: routed(samples, 'room_behind') });
        const start = counts();

        // The writer's reads go to the primary: their own message is there.
        const own = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=5`, { token: owner.token });
        assert.ok(has(own), 'the writer reads their own message');
        const ownSearch = await searchFresh(server.url, '/api/v1/search?q=egret', owner.token);
        assert.equal((ownSearch.body.hits as unknown[]).length, 1);

        // Another reader: a page before the message is the replica's (which lacks the message)...
        const older = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?before=${seq + 1}&limit=5`, { token: reader.token });
        assert.equal(older.status, 200);
        assert.ok(!has(older), 'the page before was served by the lagging replica');
        // ...the latest page runs to the head of the stream, and a forward page too: the primary's.
        assert.ok(has(await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=5`, { token: reader.token })));
        assert.ok(has(await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?after=${seq - 1}`, { token: reader.token })));
        // A page before it that names the seq as seen.
        assert.ok(has(await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?before=${seq + 1}&limit=5&seen=${seq}`, { token: reader.token })));
        // The reader's search is the replica's: no hit yet.
        assert.equal(((await api(server.url, 'GET', '/api/v1/search?q=egret', { token: reader.token })).body.hits as unknown[]).length, 0);

        samples = await routes();
        const now = counts();
        assert.ok(now.own - start.own >= 2, 'the writer\'s reads went to the primary');
        assert.ok(now.behind - start.behind >= 3, 'reads needing the head or a seen seq went to the primary');
        assert.ok(now.replica - start.replica >= 2, 'the others were served by the replica');

        // Lagging past the bound, it leaves the rotation: reads go to the primary. (On a loaded
        // machine a probe may also miss its deadline first, which takes it out sooner: the lag is
        // waited for, not assumed.)
        await until(
          'the replica lags past the bound and is out of rotation',
          async () => total(await routes(), 'parley_db_replica_lag_seconds', { replica: name }) > MAX_LAG_MS / 1_000 && !(await inRotation()),
          MAX_LAG_MS + 20_000,
        );
        const found = await searchFresh(server.url, '/api/v1/search?q=egret', reader.token);
        assert.equal((found.body.hits as unknown[]).length, 1, 'out of rotation, the primary answers');
        assert.ok(routed(await routes(), 'no_replica') > 0);
      } finally {
        await replicaAdmin.query('SELECT pg_wal_replay_resume()');
      }
      await until('the replica comes back', () => inRotation(), 20_000);
      assert.ok(total(await routes(), 'parley_db_replica_lag_seconds', { replica: name }) < 1);
    });

    it('a write taken by one node is read through another while the replica lags (marks in the shared cache)', async () => {
      const other = await startTestServer(nodeConfig());
      try {
        // A room with a member who writes nothing from now on.
        const quiet = await registerUser(server.url, 'rpq');
        const room = await createRoom(server.url, owner, 'public', 'elsewhere');
        assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: quiet.token })).status, 200);
        await caughtUp(reader);
        await caughtUp(reader, other);
        await caughtUp(quiet, other);
        await replicaAdmin.query('SELECT pg_wal_replay_pause()');
        try {
          // Joining the room through one node: the room list through the other shows it.
          assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: reader.token })).status, 200);
          const before = routed(await routes(other), 'own_write');
          const rooms = await api(other.url, 'GET', '/api/v1/rooms', { token: reader.token });
          assert.ok((rooms.body.rooms as Array<{ id: string }>).some((r) => r.id === room), 'the other node shows the room just joined');
          const sent = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: reader.token, body: { body: 'plover from one node' } });
          assert.equal(sent.status, 201);
          const found = await searchFresh(other.url, '/api/v1/search?q=plover', reader.token);
          assert.equal((found.body.hits as unknown[]).length, 1, 'the other node finds the message just sent');
          assert.ok(routed(await routes(other), 'own_write') - before >= 2, 'both went to the primary for the mark');
          // Someone who wrote nothing is still served by the (lagging) replica through that node.
          const unseen = await searchFresh(other.url, '/api/v1/search?q=plover', quiet.token);
          assert.equal((unseen.body.hits as unknown[]).length, 0);
        } finally {
          await replicaAdmin.query('SELECT pg_wal_replay_resume()');
        }
      } finally {
        await other.stop();
      }
    });

    it('loses no request when the replica stops and starts again under traffic', async () => {
      const [writerA, writerB, readerA, readerB] = await Promise.all(['rta', 'rtb', 'rtc', 'rtd'].map((p) => registerUser(server.url, p)));
      const writers = [writerA, writerB] as TestUser[];
      const readers = [readerA, readerB] as TestUser[];
      for (const u of [...writers, ...readers]) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: u.token })).status, 200);
      await caughtUp(readerA as TestUser);
      const failures: string[] = [];
      const acked: number[] = [];
      let running = true;
      let reads = 0;
      const sending = writers.map(async (u, i) => {
        let n = 0;
        while (running) {
          n += 1;
          const sent = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: u.token, body: { body: `ibis ${i}-${n}`, clientMsgId: `ibis-${i}-${n}` } });
          if (sent.status === 201) acked.push((sent.body.message as { seq: number }).seq);
          else failures.push(`send ${sent.status} ${JSON.stringify(sent.body)}`);
        }
      });
      // Readers who write nothing: served by the replica while it is in rotation.
      const reading = readers.map(async (u) => {
        while (running) {
          for (const path of [`/api/v1/rooms/${roomId}/messages?limit=20`, `/api/v1/rooms/${roomId}/messages?before=3&limit=2`, `/api/v1/rooms/${roomId}/members`, '/api/v1/rooms', '/api/v1/search?q=ibis&limit=5']) {
            const res = await api(server.url, 'GET', path, { token: u.token });
            reads += 1;
            if (res.status !== 200) failures.push(`GET ${path} ${res.status} ${JSON.stringify(res.body)}`);
          }
        }
      });
      const replicaReads = async () => routed(await routes(), 'replica');
      const movedToPrimary = async () => {
        const samples = await routes();
        return routed(samples, 'replica_failed') + routed(samples, 'no_replica');
      };
      let movedBefore = 0;
      try {
        const atStart = await replicaReads();
        await until('traffic reaches the replica', async () => (await replicaReads()) > atStart + 10);
        movedBefore = await movedToPrimary();
        await replicaAdmin.end();
        await replica.halt();
        await until('the replica leaves the rotation', async () => !(await inRotation()), 10_000);
        const whileDown = reads;
        await until('traffic goes on while it is down', async () => reads > whileDown + 30);
        await replica.start();
        replicaAdmin = new pg.Client({ connectionString: replica.url });
        await replicaAdmin.connect();
        await until('the replica is back in rotation', () => inRotation(), 30_000);
        const back = await replicaReads();
        await until('the replica serves reads again', async () => (await replicaReads()) > back + 10);
      } finally {
        running = false;
        await Promise.all([...sending, ...reading]);
      }
      assert.deepEqual(failures, []);
      assert.ok((await movedToPrimary()) > movedBefore, 'reads moved to the primary while the replica was down');
      // Every acknowledged message is there, once.
      const seqs = new Set<number>();
      let listed = 0;
      let cursor = 0;
      for (;;) {
        const page = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?after=${cursor}&limit=100`, { token: owner.token });
        const messages = page.body.messages as Array<{ seq: number }>;
        for (const m of messages) seqs.add(m.seq);
        listed += messages.length;
        if (page.body.hasMore !== true) break;
        cursor = messages.at(-1)?.seq as number;
      }
      assert.equal(listed, seqs.size, 'no message twice');
      assert.equal(new Set(acked).size, acked.length, 'one seq per acknowledged send');
      for (const seq of acked) assert.ok(seqs.has(seq), `acknowledged seq ${seq} is in history`);
    });

    // Last: a promoted replica cannot follow the primary again.
    it('leaves out a replica that was promoted (no longer a standby): every read goes to the primary', async () => {
      await caughtUp(reader);
      await replicaAdmin.query('SELECT pg_promote(true, 30)');
      await until('the promoted replica leaves the rotation', async () => !(await inRotation()), 10_000);
      const sent = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: 'grebe after the promotion' } });
      assert.equal(sent.status, 201);
      const before = routed(await routes(), 'replica');
      const found = await searchFresh(server.url, '/api/v1/search?q=grebe', reader.token);
      assert.equal((found.body.hits as unknown[]).length, 1);
      const page = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?before=3&limit=2`, { token: reader.token });
      assert.equal(page.status, 200);
      assert.equal(routed(await routes(), 'replica'), before, 'nothing was read from the promoted server');
      assert.equal(total(await routes(), 'parley_db_replica_in_rotation', { replica: name }), 0);
    });
  });
}
