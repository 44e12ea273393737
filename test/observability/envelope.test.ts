/** The bus envelope: the payload comes out byte for byte, with or without an envelope. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { openEnvelope, wrapEnvelope } from '../../src/observability/instrument.js';

it('carries the publish time and gives back the exact payload', () => {
  const payload = '{"type":"event","roomId":"r","seq":1,"body":"a\\nb ~ é"}';
  assert.deepEqual(openEnvelope(wrapEnvelope(payload, 1_700_000_000_123)), { payload, publishedAtMs: 1_700_000_000_123 });
});

it('passes a payload without an envelope unchanged', () => {
  for (const payload of ['{"a":1}', '', '~', '~no newline', '~abc\n{"a":1}']) {
    const opened = openEnvelope(payload);
    if (payload === '~abc\n{"a":1}') assert.deepEqual(opened, { payload: '{"a":1}', publishedAtMs: null });
    else assert.deepEqual(opened, { payload, publishedAtMs: null });
  }
});
