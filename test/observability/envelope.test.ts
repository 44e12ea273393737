/** The bus envelope: the payload comes out byte for byte, with or without an envelope. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { openEnvelope, wrapEnvelope } from '../../src/observability/instrument.js';

const payload = '{"type":"event","roomId":"r","seq":1,"body":"a\\nb ~ é"}';

it('carries the publish time and gives back the exact payload', () => {
  assert.deepEqual(openEnvelope(wrapEnvelope(payload, 1_700_000_000_123)), { payload, publishedAtMs: 1_700_000_000_123, traceparent: null });
});

it('carries a traceparent when tracing is on', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.deepEqual(openEnvelope(wrapEnvelope(payload, 42, traceparent)), { payload, publishedAtMs: 42, traceparent });
});

it('passes a payload without an envelope unchanged', () => {
  for (const raw of ['{"a":1}', '', '~', '~no newline']) assert.deepEqual(openEnvelope(raw), { payload: raw, publishedAtMs: null, traceparent: null });
  assert.deepEqual(openEnvelope('~abc\n{"a":1}'), { payload: '{"a":1}', publishedAtMs: null, traceparent: null });
});
