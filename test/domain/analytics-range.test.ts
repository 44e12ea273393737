/** The range of an analytics report: days that exist, times with their offset, bounded, in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportRange } from '../../src/domain/analytics-reports.js';

const refused = (request: { from?: string; to?: string }, field: string) =>
  assert.throws(
    () => reportRange(request, Date.parse('2026-12-03T12:00:00Z')),
    (e: Error & { code?: string; details?: { field?: string } }) => e.code === 'validation_failed' && e.details?.field === field,
    JSON.stringify(request),
  );

describe('analytics report range', () => {
  it('defaults to the 30 days up to now', () => {
    const now = Date.parse('2026-12-03T12:00:00Z');
    assert.deepEqual(reportRange({}, now), { from: now - 30 * 86_400_000, to: now });
  });

  it('reads days as their start in UTC, and times with their offset', () => {
    assert.deepEqual(reportRange({ from: '2026-02-28', to: '2026-03-01' }), { from: Date.parse('2026-02-28T00:00:00Z'), to: Date.parse('2026-03-01T00:00:00Z') });
    assert.deepEqual(reportRange({ from: '2026-01-31T09:00:00+02:00', to: '2026-01-31T09:00:00.5Z' }), { from: Date.parse('2026-01-31T07:00:00Z'), to: Date.parse('2026-01-31T09:00:00.500Z') });
    assert.equal(reportRange({ from: '2024-02-29', to: '2024-03-01' }).from, Date.parse('2024-02-29T00:00:00Z'));
  });

  it('refuses days that do not exist, times without an offset, and what is not a date', () => {
    for (const from of ['2026-02-30', '2026-02-29', '2026-13-01', '2026-00-10', '2026-01-01T00:00', '2026-01-01T00:00:00', 'yesterday', '', '1e12', '2026-1-1']) refused({ from, to: '2026-12-01' }, 'from');
    refused({ from: '2026-01-01', to: '2026-04-31' }, 'to');
  });

  it('refuses ranges out of order, too long, or past what ClickHouse holds', () => {
    refused({ from: '2026-02-01', to: '2026-02-01' }, 'from');
    refused({ from: '2026-02-02', to: '2026-02-01' }, 'from');
    refused({ from: '1960-01-01', to: '1970-01-02' }, 'from');
    refused({ from: '2100-01-01', to: '2109-12-31' }, 'to');
    refused({ from: '2010-01-01', to: '2026-01-01' }, 'from');
  });
});
