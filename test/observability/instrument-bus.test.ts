/**
 * The instrumented bus between nodes of two releases: a subscriber of this release hears
 * publishers writing the current envelope and the previous one alike, payloads unchanged and in
 * order; a message of a version it does not read never reaches a handler, is counted
 * (`parley_bus_dropped_total{reason="version"}`) and reported with its channel.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { instrumentBus } from '../../src/observability/instrument.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { Channel } from '../../src/ports.js';
import { parseMetrics, total } from '../support/metrics.js';

const metricsFor = () => new Metrics({ connections: () => 0, breakers: () => new Map() });
const settle = () => new Promise((r) => setImmediate(r));

it('hears the current and the previous envelope, drops and reports a newer one', async () => {
  const raw = new MemoryBus();
  const receiverMetrics = metricsFor();
  const dropped: Array<[Channel, number]> = [];
  const receiver = instrumentBus(raw, receiverMetrics, 'receiver', { onDropped: (channel, version) => dropped.push([channel, version]) });
  const current = instrumentBus(raw, metricsFor(), 'current');
  const previous = instrumentBus(raw, metricsFor(), 'previous', { envelopeVersion: 1 });
  const heard: string[] = [];
  await receiver.subscribe('room:r1', (payload) => heard.push(payload));

  const sent: string[] = [];
  for (let seq = 1; seq <= 6; seq++) {
    const payload = `E ${seq} message u-1 -\n{"seq":${seq}}`;
    sent.push(payload);
    await (seq % 2 === 0 ? current : previous).publish('room:r1', payload);
  }
  // A node two releases ahead, and a publisher of the earlier release without any envelope.
  await raw.publish('room:r1', '~3:1700000000000\nE 7 message u-1 -\n{"seq":7}');
  await raw.publish('room:r1', 'E 8 message u-1 -\n{"seq":8}');
  await settle();

  assert.deepEqual(heard, [...sent, 'E 8 message u-1 -\n{"seq":8}']);
  assert.deepEqual(dropped, [['room:r1', 3]]);
  const samples = parseMetrics(await receiverMetrics.text());
  assert.equal(total(samples, 'parley_bus_dropped_total', { reason: 'version' }), 1);
  assert.equal(total(samples, 'parley_bus_received_total'), 8);
  await raw.close();
});

it('exports the dropped counter at zero before anything is dropped', async () => {
  const metrics = metricsFor();
  instrumentBus(new MemoryBus(), metrics);
  assert.ok(parseMetrics(await metrics.text()).some((s) => s.name === 'parley_bus_dropped_total' && s.labels.reason === 'version' && s.value === 0));
});
