/**
 * Parley with its shared cache in memcached (CACHE_URL), without Redis: sessions and the newest
 * history page are read from it, every change invalidates them (a logout refuses the token at
 * once, a new message shows in the next history read), and while memcached is down reads and
 * sends are answered from the store while a logout, which cannot remove the cached session, is
 * refused with 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scrape, total } from '../support/metrics.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { MEMCACHED, requireBinary, type ServerHandle, startMemcached } from '../support/services.js';

if (requireBinary(MEMCACHED, 'memcached', 'Parley with memcached')) {
  describe('Parley with its cache in memcached', () => {
    let memcached: ServerHandle;
    let server: TestServer;

    before(async () => {
      memcached = await startMemcached();
      server = await startTestServer({ CACHE_URL: `memcached://127.0.0.1:${memcached.port}`, CACHE_TIMEOUT_MS: 300, BREAKER_RESET_MS: 1_000 });
    });

    after(async () => {
      await server?.stop();
      await memcached?.stop();
    });

    it('reads sessions and history pages from it, and invalidates them on every change', async () => {
      const ann = await registerUser(server.url, 'mcann');
      for (let i = 0; i < 3; i++) assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: ann.token })).status, 200);
      const roomId = await createRoom(server.url, ann, 'public', 'memcached');
      const send = (body: string) => api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: ann.token, body: { body } });
      assert.equal((await send('first')).status, 201);
      const history = async () => (await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: ann.token })).body.messages.map((m: { body: string }) => m.body);
      assert.deepEqual(await history(), ['first']);
      assert.deepEqual(await history(), ['first']);
      assert.equal((await send('second')).status, 201);
      assert.deepEqual(await history(), ['second', 'first'], 'a new message invalidates the cached page (newest first)');
      const samples = await scrape(server.url);
      assert.ok(total(samples, 'parley_cache_requests_total', { cache: 'sessions', result: 'hit' }) >= 2, 'sessions are served from memcached');
      assert.ok(total(samples, 'parley_cache_requests_total', { cache: 'history', result: 'hit' }) >= 1, 'history pages are served from memcached');

      // A logout is seen at once: the cached session is gone with it.
      assert.equal((await api(server.url, 'POST', '/api/v1/auth/logout', { token: ann.token })).status, 204);
      assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: ann.token })).status, 401);
    });

    it('serves from the store while memcached is down, and uses it again when it is back', async () => {
      const bea = await registerUser(server.url, 'mcbea');
      const roomId = await createRoom(server.url, bea, 'public', 'outage');
      await memcached.halt({ hard: true });
      try {
        for (let i = 0; i < 8; i++) {
          assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: bea.token })).status, 200);
          assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bea.token, body: { body: `while down ${i}` } })).status, 201);
          assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: bea.token })).status, 200);
        }
        // A logout must also remove the cached session: it cannot now, so it is not answered as done.
        const refused = await api(server.url, 'POST', '/api/v1/auth/logout', { token: bea.token });
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error.code, 'unavailable');
      } finally {
        await memcached.start();
      }
      // Back: the session is gone from the store (the logout got that far) and from the cache.
      assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: bea.token })).status, 401);
      // After the breaker's reset, reads are hits again.
      const cy = await registerUser(server.url, 'mccy');
      const hits = async () => total(await scrape(server.url), 'parley_cache_requests_total', { cache: 'sessions', result: 'hit' });
      const before = await hits();
      const deadline = Date.now() + 15_000;
      while ((await hits()) <= before + 1) {
        assert.ok(Date.now() < deadline, 'the session cache never hit again after memcached came back');
        assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: cy.token })).status, 200);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await api(server.url, 'POST', '/api/v1/auth/logout', { token: cy.token })).status, 204);
      assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: cy.token })).status, 401);
    });
  });
}
