/**
 * The bus envelope: a node of this release reads messages of the current version and of the
 * previous one (as the earlier release wrote them, with or without an envelope), gives back the
 * payload byte for byte, and tells a version it does not read apart without reading the payload.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BUS_ENVELOPE_CURRENT, BUS_ENVELOPE_PREVIOUS, openEnvelope, wrapEnvelope } from '../../src/protocol/bus-envelope.js';

const payload = 'E 7 message u-1 -\n{"type":"event","roomId":"r","seq":7,"body":"a\\nb ~2: é"}';
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The earlier release's reader (src/observability/instrument.ts before versions), kept to check what it makes of ours. */
function previousReleaseOpen(message: string): { payload: string; publishedAtMs: number | null; traceparent: string | null } {
  if (!message.startsWith('~')) return { payload: message, publishedAtMs: null, traceparent: null };
  const end = message.indexOf('\n');
  if (end < 0) return { payload: message, publishedAtMs: null, traceparent: null };
  const [at, tp] = message.slice(1, end).split(' ');
  const ms = Number(at);
  return { payload: message.slice(end + 1), publishedAtMs: at !== '' && Number.isFinite(ms) ? ms : null, traceparent: tp ?? null };
}

describe('bus envelope', () => {
  it('writes the current version with its number first', () => {
    assert.equal(wrapEnvelope('x', { publishedAtMs: 42 }), `~${BUS_ENVELOPE_CURRENT}:42\nx`);
    assert.equal(wrapEnvelope('x', { publishedAtMs: 42, traceparent }), `~${BUS_ENVELOPE_CURRENT}:42 ${traceparent}\nx`);
  });

  it('writes the previous version exactly as the earlier release did', () => {
    assert.equal(wrapEnvelope('x', { publishedAtMs: 42, version: BUS_ENVELOPE_PREVIOUS }), '~42\nx');
    assert.equal(wrapEnvelope('x', { publishedAtMs: 42, traceparent, version: BUS_ENVELOPE_PREVIOUS }), `~42 ${traceparent}\nx`);
  });

  it('refuses to write a version it does not know', () => {
    assert.throws(() => wrapEnvelope('x', { publishedAtMs: 42, version: 3 }), /version 3 cannot be written/);
  });

  it('opens the current version: time, traceparent and the exact payload', () => {
    assert.deepEqual(openEnvelope(wrapEnvelope(payload, { publishedAtMs: 1_700_000_000_123 })), { ok: true, version: 2, payload, publishedAtMs: 1_700_000_000_123, traceparent: null });
    assert.deepEqual(openEnvelope(wrapEnvelope(payload, { publishedAtMs: 42, traceparent })), { ok: true, version: 2, payload, publishedAtMs: 42, traceparent });
  });

  it('opens the previous version as the earlier release wrote it', () => {
    assert.deepEqual(openEnvelope(`~1700000000123\n${payload}`), { ok: true, version: 1, payload, publishedAtMs: 1_700_000_000_123, traceparent: null });
    assert.deepEqual(openEnvelope(`~42 ${traceparent}\n${payload}`), { ok: true, version: 1, payload, publishedAtMs: 42, traceparent });
  });

  it('reads a payload without an envelope (the earlier release\'s `parley worker`) as the previous version, unchanged', () => {
    for (const raw of [payload, '{"a":1}', 'R abc', '', '~', '~no newline', '~123']) {
      assert.deepEqual(openEnvelope(raw), { ok: true, version: 1, payload: raw, publishedAtMs: null, traceparent: null });
    }
    assert.deepEqual(openEnvelope('~abc\n{"a":1}'), { ok: true, version: 1, payload: '{"a":1}', publishedAtMs: null, traceparent: null });
  });

  it('drops a newer or an unknown version, whatever follows its number', () => {
    assert.deepEqual(openEnvelope(`~3:42\n${payload}`), { ok: false, version: 3 });
    assert.deepEqual(openEnvelope('~3:anything at all, no newline'), { ok: false, version: 3 });
    assert.deepEqual(openEnvelope(`~12:42 ${traceparent}\n${payload}`), { ok: false, version: 12 });
    assert.deepEqual(openEnvelope(`~123456789012345678901:42\n${payload}`).ok, false);
    // Versions are named only from 2 on: `~1:` and `~0:` were never written.
    assert.deepEqual(openEnvelope(`~1:42\n${payload}`), { ok: false, version: 1 });
    assert.deepEqual(openEnvelope(`~0:42\n${payload}`), { ok: false, version: 0 });
    assert.deepEqual(openEnvelope(`~:42\n${payload}`), { ok: false, version: -1 });
    // The current version without its header line's end is no message either.
    assert.deepEqual(openEnvelope('~2:42'), { ok: false, version: 2 });
  });

  it('round-trips any payload, time and traceparent in both versions written', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat({ max: 2 ** 50 }), fc.option(fc.constant(traceparent)), fc.constantFrom(BUS_ENVELOPE_CURRENT, BUS_ENVELOPE_PREVIOUS), (body, at, tp, version) => {
        const opened = openEnvelope(wrapEnvelope(body, { publishedAtMs: at, traceparent: tp, version }));
        assert.deepEqual(opened, { ok: true, version, payload: body, publishedAtMs: at, traceparent: tp });
      }),
    );
  });

  it('a node of the earlier release reads a current message\'s payload and traceparent (not its publish time)', () => {
    assert.deepEqual(previousReleaseOpen(wrapEnvelope(payload, { publishedAtMs: 42, traceparent })), { payload, publishedAtMs: null, traceparent });
    assert.deepEqual(previousReleaseOpen(wrapEnvelope(payload, { publishedAtMs: 42 })), { payload, publishedAtMs: null, traceparent: null });
  });
});
