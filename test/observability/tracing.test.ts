/**
 * One trace follows a message across nodes: the `ws send` span on node A, its store append and
 * `bus publish` there, and `bus deliver` on node B (a child of the publish, joined through the
 * traceparent in the bus envelope over Redis). Spans go to an in-memory exporter.
 */
import assert from 'node:assert/strict';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { after, before, describe, it } from 'node:test';
import { startTracing, type TracingHandle, tracingRequested } from '../../src/observability/tracing.js';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

describe('tracing configuration', () => {
  it('is off unless the OTEL_* variables ask for it', () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }), false);
  });
});

if ((await requirePostgres('tracing across nodes')) && (await requireRedis('tracing across nodes'))) {
  describe('tracing across nodes', () => {
    const exporter = new InMemorySpanExporter();
    let tracing: TracingHandle;
    let pair: NodePair;
    let a: TestServer;
    let b: TestServer;

    before(async () => {
      tracing = startTracing({}, exporter);
      pair = await startNodePair();
      ({ a, b } = pair);
    });
    after(async () => {
      await pair?.stop();
      await tracing?.shutdown();
    });

    const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

    it('one trace id spans the send on node A and the delivery on node B', async () => {
      const alice = await registerUser(a.url, 'alice');
      const bob = await registerUser(b.url, 'bob');
      const roomId = await createRoom(a.url, alice);
      assert.equal((await api(b.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token })).status, 200);
      const reader = await WsTestClient.connect(b.wsUrl, { token: bob.token });
      await reader.request({ type: 'subscribe', roomId });
      const writer = await WsTestClient.connect(a.wsUrl, { token: alice.token });
      exporter.reset();

      const sent = await writer.request({ type: 'send', roomId, body: 'traced hello' });
      assert.equal(sent.ok, true);
      await reader.waitForEvents(roomId, 1);

      let send: ReadableSpan | undefined;
      let deliver: ReadableSpan | undefined;
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        send = exporter.getFinishedSpans().find((s) => s.name === 'ws send' && s.attributes['parley.room.id'] === roomId);
        deliver = send === undefined ? undefined : spansOf(send.spanContext().traceId).find((s) => s.name === 'bus deliver' && s.attributes['parley.node'] === b.parley.nodeId);
        if (deliver !== undefined) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(send, 'no ws send span');
      assert.ok(deliver, 'no bus deliver span on node B in the trace of the send');
      const trace = spansOf(send.spanContext().traceId);
      const publish = trace.find((s) => s.name === 'bus publish' && s.attributes['messaging.destination.name'] === `room:${roomId}`);
      assert.ok(publish, 'no bus publish span for the room in the trace');
      assert.equal(publish.attributes['parley.node'], a.parley.nodeId);
      // The delivery on B continues the publish on A, across Redis.
      assert.equal(deliver.parentSpanContext?.spanId, publish.spanContext().spanId);
      assert.ok(
        trace.some((s) => s.name === 'store append'),
        `no store append in the trace: ${trace.map((s) => s.name).join(', ')}`,
      );
      writer.close();
      reader.close();
    });

    it('a REST call continues the caller trace (traceparent) through its store calls', async () => {
      const carol = await registerUser(a.url, 'carol');
      exporter.reset();
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const res = await api(a.url, 'GET', '/api/v1/rooms', { token: carol.token, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 50));
      const spans = spansOf(traceId);
      const http = spans.find((s) => s.name === 'HTTP GET /api/v1/rooms');
      assert.ok(http, `no HTTP span in ${spans.map((s) => s.name).join(', ')}`);
      assert.equal(http.attributes['http.response.status_code'], 200);
      assert.ok(spans.some((s) => s.name.startsWith('store ') && s.parentSpanContext?.spanId === http.spanContext().spanId));
    });
  });
}
