/**
 * Object storage (S3) stopped and started again under traffic: a server with FILE_STORAGE=s3
 * on s3rver (a child process of the test's own), three clients uploading small files in a loop
 * and one chatting (REST and WebSocket sends) while another member reads history and listens on a
 * WebSocket. s3rver is killed, and started again on the same port a few seconds later.
 *
 * What must hold:
 * - during the outage an upload is answered 503 `unavailable` in the error shape, with
 *   Retry-After; past the threshold the storage breaker opens and uploads are refused at once
 *   without reaching the storage (parley_breaker_rejected_total, the breaker's state);
 * - nothing else notices: not one send, history read or WebSocket delivery fails;
 * - once the storage is back, uploads succeed again within BREAKER_RESET_MS and a little;
 * - a failed upload leaves no row behind and gives its quota reservation back: after all the
 *   failures, a user can still upload exactly what their successes left of UPLOAD_DAILY_BYTES.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { total as sum, scrape } from '../support/metrics.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const DAILY_BYTES = 200_000;
const FILE_BYTES = 400;
const RESET_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface UploadOutcome {
  status: number;
  ms: number;
  /** The breaker was open when the upload was sent and when it was answered. */
  openThroughout: boolean;
  retryAfter: string | null;
  code: string | undefined;
  at: number;
}

describe('object storage (S3) stopped and started under upload traffic', () => {
  let s3: S3rverHandle;
  let server: TestServer;
  let uploaders: TestUser[];
  let chatter: TestUser;
  let reader: TestUser;
  let room: string;

  before(async () => {
    s3 = await startS3rver();
    server = await startTestServer({
      FILE_STORAGE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: true,
      S3_TIMEOUT_MS: 500,
      BREAKER_VOLUME_THRESHOLD: 5,
      BREAKER_RESET_MS: RESET_MS,
      BREAKER_ROLLING_WINDOW_MS: 2_000,
      UPLOAD_DAILY_BYTES: DAILY_BYTES,
      UPLOAD_MAX_BYTES: DAILY_BYTES,
      SEND_RATE_PER_SEC: 10_000,
      SEND_BURST: 10_000,
    });
    uploaders = await Promise.all([1, 2, 3].map((n) => registerUser(server.url, `up${n}`)));
    [chatter, reader] = await Promise.all([registerUser(server.url, 'chat'), registerUser(server.url, 'reader')]);
    room = await createRoom(server.url, uploaders[0] as TestUser, 'private', 'outage');
    for (const user of [...uploaders.slice(1), chatter, reader]) {
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/members`, { token: (uploaders[0] as TestUser).token, body: { username: user.username } })).status, 200);
    }
  });

  after(async () => {
    await server?.stop();
    await s3?.stop();
  });

  const storageState = () => server.parley.breakers.states().get('storage') ?? 0;

  async function uploadOnce(user: TestUser, bytes: number, tag: string): Promise<UploadOutcome> {
    const openBefore = storageState() === 2;
    const started = performance.now();
    const res = await api<{ error?: { code: string; message: string } }>(server.url, 'POST', `/api/v1/rooms/${room}/uploads?name=${tag}.txt`, {
      token: user.token,
      rawBody: Buffer.alloc(bytes, 0x61 + (tag.length % 26)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const ms = performance.now() - started;
    return { status: res.status, ms, openThroughout: openBefore && storageState() === 2, retryAfter: res.headers.get('retry-after'), code: res.body.error?.code, at: Date.now() };
  }

  it('uploads fail with 503 and then are refused at once; sends, history and deliveries never notice; uploads come back; no quota is lost', async () => {
    const listener = await WsTestClient.connect(server.wsUrl, { token: reader.token });
    const talker = await WsTestClient.connect(server.wsUrl, { token: chatter.token });
    try {
      assert.equal((await listener.request({ type: 'subscribe', roomId: room })).ok, true);

      let running = true;
      const outcomes = new Map<string, UploadOutcome[]>(uploaders.map((u) => [u.id, []]));
      const otherFailures: string[] = [];
      const sentSeqs: number[] = [];
      let historyReads = 0;

      const uploadLoops = uploaders.map(async (user, n) => {
        for (let i = 0; running; i++) {
          (outcomes.get(user.id) as UploadOutcome[]).push(await uploadOnce(user, FILE_BYTES, `u${n}-${i}`));
          await sleep(20);
        }
      });
      const chatLoop = (async () => {
        for (let i = 0; running; i++) {
          if (i % 2 === 0) {
            const res = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: chatter.token, body: { body: `rest ${i}` } }).catch((e: unknown) => ({ status: -1, body: { error: String(e) } }));
            if (res.status === 201) sentSeqs.push(Number((res.body as { message: { seq: number } }).message.seq));
            else otherFailures.push(`REST send ${i}: ${res.status} ${JSON.stringify(res.body)}`);
          } else {
            const reply = await talker.request({ type: 'send', roomId: room, body: `ws ${i}` }).catch((e: unknown) => ({ ok: false, error: String(e) }));
            if (reply.ok === true) sentSeqs.push(Number((reply as { message: { seq: number } }).message.seq));
            else otherFailures.push(`WebSocket send ${i}: ${JSON.stringify(reply)}`);
          }
          await sleep(25);
        }
      })();
      const historyLoop = (async () => {
        while (running) {
          const res = await api(server.url, 'GET', `/api/v1/rooms/${room}/messages?limit=20`, { token: reader.token }).catch((e: unknown) => ({ status: -1, body: String(e) }));
          if (res.status === 200) historyReads++;
          else otherFailures.push(`history: ${res.status} ${JSON.stringify(res.body)}`);
          await sleep(40);
        }
      })();

      try {
        const all = () => [...outcomes.values()].flat();
        // Healthy first: every uploader has stored a few files, and nothing failed.
        const warm = Date.now() + 15_000;
        while ([...outcomes.values()].some((o) => o.length < 5)) {
          assert.ok(Date.now() < warm, `every uploader uploads within 15 s (${[...outcomes.values()].map((o) => o.length).join(', ')})`);
          await sleep(50);
        }
        await sleep(500);
        assert.ok(all().every((o) => o.status === 201), `healthy: ${JSON.stringify(all().filter((o) => o.status !== 201).slice(0, 3))}`);

        // The outage.
        const rejectedBefore = sum(await scrape(server.url), 'parley_breaker_rejected_total', { breaker: 'storage' });
        const haltedAt = Date.now();
        await s3.halt();
        const deadline = Date.now() + 10_000;
        while (storageState() !== 2) {
          assert.ok(Date.now() < deadline, 'the storage breaker opened within 10 s of the outage');
          await sleep(20);
        }
        const openedAfterMs = Date.now() - haltedAt;
        const openStates = (await scrape(server.url)).filter((s) => s.name === 'parley_breaker_state' && s.labels.breaker === 'storage');
        assert.deepEqual(
          openStates.map((s) => s.value),
          [2],
          'parley_breaker_state{breaker="storage"} reads open',
        );
        // Held down for a few reset periods: the probes fail and the breaker opens again.
        await sleep(3 * RESET_MS);
        const restartedAt = Date.now();
        await s3.start();
        const backDeadline = Date.now() + RESET_MS + 3_000;
        const successSince = () => Math.min(...all().filter((o) => o.at > restartedAt && o.status === 201).map((o) => o.at));
        while (successSince() === Number.POSITIVE_INFINITY) {
          assert.ok(Date.now() < backDeadline, `an upload succeeded within ${RESET_MS + 3_000} ms of the storage's return`);
          await sleep(20);
        }
        const backAfterMs = successSince() - restartedAt;
        await sleep(1_000);
        running = false;
        await Promise.all([...uploadLoops, chatLoop, historyLoop]);

        const during = all().filter((o) => o.at > haltedAt && o.at < restartedAt);
        const failed = during.filter((o) => o.status !== 201);
        assert.ok(failed.length >= 10, `uploads failed during the outage (${failed.length})`);
        for (const o of failed) {
          assert.equal(o.status, 503, JSON.stringify(o));
          assert.equal(o.code, 'unavailable');
          assert.ok(o.retryAfter !== null && Number(o.retryAfter) >= 1, `Retry-After: ${o.retryAfter}`);
        }
        const refused = failed.filter((o) => o.openThroughout);
        const tried = failed.filter((o) => !o.openThroughout);
        const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
        const refusedP50 = p50(refused.map((o) => o.ms));
        const rejected = sum(await scrape(server.url), 'parley_breaker_rejected_total', { breaker: 'storage' }) - rejectedBefore;
        console.log(
          `# breaker open ${openedAfterMs} ms after the halt; ${failed.length} uploads failed (${tried.length} tried the storage, p50 ${p50(tried.map((o) => o.ms)).toFixed(0)} ms; ` +
            `${refused.length} while open, p50 ${refusedP50.toFixed(0)} ms; ${rejected} refused by the breaker); uploads back ${backAfterMs} ms after the storage; ` +
            `${sentSeqs.length} sends and ${historyReads} history reads`,
        );
        assert.ok(refused.length >= 5, `uploads were answered while the breaker was open (${refused.length})`);
        assert.ok(rejected >= 5, `the open breaker refused calls without reaching the storage (${rejected})`);
        assert.ok(refusedP50 < 100, `a refusal while open comes at once (p50 ${refusedP50.toFixed(0)} ms)`);

        // Nothing else noticed.
        assert.deepEqual(otherFailures, []);
        assert.ok(sentSeqs.length > 50 && historyReads > 50, `traffic went on (${sentSeqs.length} sends, ${historyReads} reads)`);
        const last = Math.max(...sentSeqs);
        await listener.waitFor((f) => f.type === 'event' && f.roomId === room && f.seq === last, 10_000);
        const delivered = new Set(listener.events(room).map((f) => f.seq));
        assert.deepEqual(
          sentSeqs.filter((s) => !delivered.has(s)),
          [],
          'every message sent was delivered on the WebSocket',
        );
      } finally {
        running = false;
      }

      // No row left of a failed upload: every user's rows are their successes, all ready.
      const db = new Sqlite(path.join(server.dataDir, 'parley.db'), { readonly: true });
      try {
        for (const user of uploaders) {
          const rows = db.prepare('SELECT state, COUNT(*) AS n, SUM(size) AS bytes FROM uploads WHERE user_id = ? GROUP BY state').all(user.id) as Array<{ state: string; n: number; bytes: number }>;
          const successes = (outcomes.get(user.id) as UploadOutcome[]).filter((o) => o.status === 201).length;
          assert.deepEqual(rows, [{ state: 'ready', n: successes, bytes: successes * FILE_BYTES }], `the upload rows of ${user.username}`);
        }
      } finally {
        db.close();
      }

      // The quota: what the successes left of it, to the byte, fits; one byte more does not.
      const user = uploaders[0] as TestUser;
      const used = (outcomes.get(user.id) as UploadOutcome[]).filter((o) => o.status === 201).length * FILE_BYTES;
      const failures = (outcomes.get(user.id) as UploadOutcome[]).filter((o) => o.status !== 201).length;
      // One reservation kept by a failure would leave the rest short of fitting.
      assert.ok(failures >= 3, `${user.username} failed uploads during the outage (${failures})`);
      const rest = await uploadOnce(user, DAILY_BYTES - used, 'rest');
      assert.equal(rest.status, 201, `the rest of the quota (${DAILY_BYTES - used} bytes after ${used} used and ${failures} failures) fits: ${JSON.stringify(rest)}`);
      const more = await uploadOnce(user, 1, 'one-more');
      assert.equal(more.status, 429);
    } finally {
      listener.close();
      talker.close();
    }
  });
});
