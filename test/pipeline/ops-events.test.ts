/**
 * Operational events through their bounded buffer to a JetStream log of the test's own: emitted
 * while the log is down they wait, past the bound the oldest are dropped and counted, and the
 * rest reach the log once it is back, each once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JetStreamLog } from '../../src/adapters/nats/event-log.js';
import { OpsEvents } from '../../src/pipeline/ops-events.js';
import { decodeRecord, type OpsRecord } from '../../src/pipeline/records.js';
import { NATS_SERVER, requireBinary, type ServerHandle, startNats } from '../support/services.js';

const options = (url: string) => ({ url, stream: 'OPS', prefix: 'ops-test', maxAgeMs: 3_600_000, maxBytes: 1 << 26, duplicateWindowMs: 120_000, timeoutMs: 500, onError: () => undefined });

async function open(url: string): Promise<JetStreamLog> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await JetStreamLog.open(options(url));
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

if (requireBinary(NATS_SERVER, 'nats-server', 'Operational events')) {
  describe('operational events', () => {
    let server: ServerHandle;
    before(async () => {
      server = await startNats({ jetStream: true });
    });
    after(async () => {
      await server.stop();
    });

    it('wait in a bounded buffer while the log is down, drop the oldest past it, and reach the log once it is back', async () => {
      const log = await open(server.url);
      let dropped = 0;
      let appended = 0;
      const errors: unknown[] = [];
      const ops = new OpsEvents(log, { node: 'n1', maxBuffered: 10, flushMs: 20, onError: (e) => errors.push(e), onDropped: (n) => (dropped += n), onAppended: (n) => (appended += n) });
      try {
        ops.emit('login.succeeded', { userId: 'before' });
        const deadline = Date.now() + 5_000;
        while (appended < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(appended, 1);

        await server.halt();
        for (let i = 0; i < 25; i++) ops.emit('connection.opened', { userId: `u${i}` });
        assert.equal(dropped, 15, 'past the bound the oldest are dropped');
        await new Promise((r) => setTimeout(r, 1_000));
        assert.ok(errors.length >= 1, 'the failure is reported');
        await server.start();
        const back = Date.now() + 15_000;
        while (appended < 11 && Date.now() < back) await new Promise((r) => setTimeout(r, 50));
        assert.equal(appended, 11);

        const seen: OpsRecord[] = [];
        const stop = log.consume('reader', { batch: 100 }, async (batch) => {
          for (const entry of batch) {
            const record = decodeRecord(entry);
            if (record?.type === 'ops') seen.push(record);
          }
        });
        const read = Date.now() + 10_000;
        while (seen.length < 11 && Date.now() < read) await new Promise((r) => setTimeout(r, 50));
        await stop();
        assert.deepEqual(
          seen.map((r) => r.userId),
          ['before', ...Array.from({ length: 10 }, (_, i) => `u${i + 15}`)],
          'the newest ten, in order, each once',
        );
        assert.ok(seen.every((r) => r.node === 'n1' && r.v === 1 && typeof r.at === 'number'));
      } finally {
        await ops.close();
        await log.close();
      }
    });
  });
}
