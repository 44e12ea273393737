import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CLOSE, ERROR_STATUS } from '../src/errors.js';

describe('error catalogue', () => {
  it('matches the statuses of the protocol', () => {
    assert.deepEqual(ERROR_STATUS, {
      validation_failed: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      payload_too_large: 413,
      rate_limited: 429,
      unavailable: 503,
      internal: 500,
    });
  });

  it('every code and close code is documented in docs/protocol.md', () => {
    const doc = readFileSync('docs/protocol.md', 'utf8');
    for (const code of Object.keys(ERROR_STATUS)) assert.ok(doc.includes(`\`${code}\``), `${code} missing`);
    for (const code of Object.values(CLOSE)) assert.ok(doc.includes(String(code)), `close code ${code} missing`);
  });
});
