/**
 * The per-address limits of deploy/nginx.conf and deploy/haproxy.cfg, with the real balancer in
 * front of a node, the files used as they are (only ports and paths changed). Each address on
 * loopback (127.0.0.0/8 are all this machine's) is a client of its own to the balancer, so one
 * test's address is never limited by another's:
 * - ordinary use from 127.0.0.1 passes: REST calls answered 200, a WebSocket sends and is acknowledged;
 * - a burst from 127.0.0.3 is answered 429 in Parley's error shape with Retry-After, while
 *   127.0.0.2, asking in the same instants, gets every answer;
 * - 127.0.0.4 holding LIMIT connections gets 429 for one more (a WebSocket upgrade too), while
 *   127.0.0.2 connects; one connection released, it connects again.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/files.js';
import { Fleet, HAPROXY, NGINX } from '../support/fleet.js';
import { api } from '../support/server.js';
import { requireBinary } from '../support/services.js';
import { WsTestClient } from '../support/ws-client.js';
import { SendingClient, UpgradeRefused } from '../support/ws-sender.js';

/** The balancer's own 429, as both files write it. */
const RATE_LIMITED = { error: { code: 'rate_limited', message: 'Too many requests from this address; retry later.', details: { retryAfterMs: 1000 } } };
/** Requests (nginx) or connections (HAProxy) one address may hold at once, in both files. */
const LIMIT = 1000;

interface Answer {
  status: number;
  retryAfter: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** One GET from `localAddress`, over `agent` (keep-alive, so a burst is not a storm of new connections) or a connection of its own. */
function get(url: string, localAddress: string, options: { token?: string; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: options.agent ?? false, headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }, timeout: 20_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], contentType: res.headers['content-type'], body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} from ${localAddress}: no answer within 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

function assertRateLimited(answer: Answer, what: string): void {
  assert.equal(answer.status, 429, what);
  assert.equal(answer.retryAfter, '1', `${what}: Retry-After`);
  assert.match(answer.contentType ?? '', /^application\/json/, `${what}: Content-Type`);
  assert.deepEqual(JSON.parse(answer.body), RATE_LIMITED, `${what}: the body`);
}

/**
 * A connection from `localAddress` that the balancer counts until it is destroyed. nginx counts
 * requests in progress, not connections: this one sends a POST's headers and never its body
 * (nginx reads the body before it asks a node, so the node never sees it). HAProxy counts
 * connections from the moment they are accepted: this one sends nothing.
 */
function hold(kind: 'nginx' | 'haproxy', port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
      if (kind === 'nginx') socket.write('POST /held HTTP/1.1\r\nHost: parley\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n');
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

export async function balancerLimitsSuite(kind: 'nginx' | 'haproxy'): Promise<void> {
  if (!requireBinary(kind === 'nginx' ? NGINX : HAPROXY, kind, `${kind} per-address limits`)) return;

  describe(`${kind}: per-address limits from deploy/`, { concurrency: false }, () => {
    let fleet: Fleet;
    let dataDir: string;
    let token: string;
    let roomId: string;

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), `parley-${kind}-limits-`));
      fleet = await Fleet.start({ nodes: 1, workersPerNode: 1, balancer: kind, env: { DATA_DIR: dataDir, LOG_LEVEL: 'warn', SCRYPT_COST: '10' } });
      const reg = await api(fleet.url, 'POST', '/api/v1/auth/register', { body: { username: `lim_${kind}`, password: 'correct horse battery' } });
      assert.equal(reg.status, 201);
      token = reg.body.token as string;
      const room = await api(fleet.url, 'POST', '/api/v1/rooms', { token, body: { name: 'limits', visibility: 'public' } });
      roomId = room.body.room.id as string;
    });
    after(async () => {
      await fleet?.stop();
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    });

    it('passes ordinary use: REST calls answered 200, a WebSocket sends and is acknowledged', async () => {
      // A page load's worth of calls, one after another, as fast as they come back.
      for (let i = 0; i < 40; i++) {
        const answer = await get(`${fleet.url}/api/v1/rooms/${roomId}/messages`, '127.0.0.1', { token });
        assert.equal(answer.status, 200, `call ${i}: ${answer.body}`);
      }
      const client = await WsTestClient.connect(`${fleet.url.replace('http', 'ws')}/ws`, { token });
      try {
        assert.equal((await client.request({ type: 'subscribe', roomId })).ok, true);
        const sent = await client.request({ type: 'send', roomId, body: 'through the balancer', clientMsgId: 'ordinary-1' });
        assert.equal(sent.ok, true, JSON.stringify(sent));
      } finally {
        client.close();
      }
    });

    it('answers a burst from one address 429 in Parley\'s error shape; another address is served meanwhile', async () => {
      const url = `${fleet.url}/api/v1/me`;
      const burst = new Agent({ keepAlive: true, maxSockets: 100 });
      const other = new Agent({ keepAlive: true, maxSockets: 1 });
      const limited: Answer[] = [];
      const otherStatuses: number[] = [];
      const burstStatuses = new Set<number>();
      try {
        // Rounds of 100 calls at once from 127.0.0.3, each with a call from 127.0.0.2, until
        // 127.0.0.3 has been refused in three rounds (bounded: the limits allow far fewer).
        let rounds = 0;
        for (let round = 0; rounds < 3 && round < 100; round++) {
          const [answers, mine] = await Promise.all([Promise.all(Array.from({ length: 100 }, () => get(url, '127.0.0.3', { token, agent: burst }))), get(url, '127.0.0.2', { token, agent: other })]);
          otherStatuses.push(mine.status);
          for (const a of answers) burstStatuses.add(a.status);
          const refused = answers.filter((a) => a.status === 429);
          limited.push(...refused);
          if (refused.length > 0) rounds++;
        }
      } finally {
        burst.destroy();
        other.destroy();
      }
      assert.ok(limited.length > 0, 'no call of the burst was refused');
      for (const answer of limited.slice(0, 5)) assertRateLimited(answer, 'a call past the rate');
      assert.deepEqual([...burstStatuses].sort(), [200, 429], 'the burst got answers other than 200 and 429');
      assert.deepEqual(otherStatuses.filter((s) => s !== 200), [], '127.0.0.2 was limited by 127.0.0.3\'s burst');
      assert.equal(await SendingClient.probe(`${fleet.url.replace('http', 'ws')}/ws`, token, '127.0.0.2'), 'pong', 'a WebSocket from 127.0.0.2');
    });

    it(`refuses one connection past ${LIMIT} held by one address, WebSocket upgrades too; another address connects`, async () => {
      const port = Number(new URL(fleet.url).port);
      const wsUrl = `${fleet.url.replace('http', 'ws')}/ws`;
      const held: Socket[] = [];
      try {
        for (let i = 0; i < LIMIT; i++) held.push(await hold(kind, port, '127.0.0.4'));
        // Every held connection counted (the balancer reads them in turn): one more is refused.
        await until(`a connection past the ${LIMIT} held refused`, async () => (await get(`${fleet.url}/healthz`, '127.0.0.4')).status === 429, 20_000);
        assertRateLimited(await get(`${fleet.url}/api/v1/me`, '127.0.0.4', { token }), 'a REST call past the limit');
        const upgrade = await SendingClient.probe(wsUrl, token, '127.0.0.4').then(
          (outcome) => new Error(`the upgrade past the limit was not refused: ${outcome}`),
          (error: unknown) => error,
        );
        assert.ok(upgrade instanceof UpgradeRefused, String(upgrade));
        assert.deepEqual({ status: upgrade.status, code: upgrade.code, retryAfter: upgrade.retryAfter }, { status: 429, code: 'rate_limited', retryAfter: '1' });

        assert.equal((await get(`${fleet.url}/api/v1/me`, '127.0.0.2', { token })).status, 200, '127.0.0.2 limited by 127.0.0.4\'s connections');
        assert.equal(await SendingClient.probe(wsUrl, token, '127.0.0.2'), 'pong', 'a WebSocket from 127.0.0.2');

        // One released: the address is under the limit again, not banned.
        held.pop()?.destroy();
        await until('a connection accepted once one of the held ones closed', async () => (await get(`${fleet.url}/healthz`, '127.0.0.4')).status === 200, 20_000);
      } finally {
        for (const socket of held) socket.destroy();
      }
    });
  });
}
