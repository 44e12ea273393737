import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configTable } from '../scripts/config-table.js';
import { ConfigError, loadConfig, OPTIONS } from '../src/config.js';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 3000);
    assert.equal(c.DATABASE_URL, '');
    assert.equal(c.WS_MAX_PAYLOAD_BYTES, 65536);
    assert.equal(c.REPLAY_LIMIT, 1000);
  });

  it('names the bad variable', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), (e: unknown) => e instanceof ConfigError && e.message.startsWith('PORT must be an integer'));
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL must be a postgres:\/\/ URL/);
    assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL must be one of/);
    assert.throws(() => loadConfig({ ALLOWED_ORIGINS: 'not a url' }), /ALLOWED_ORIGINS/);
    assert.throws(() => loadConfig({ SEND_BURST: '0' }), /SEND_BURST must be between 1/);
  });

  it('docs/operations.md carries the current configuration table (npx tsx scripts/config-table.ts --write)', () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    assert.ok(doc.includes(configTable()), 'the table in docs/operations.md is out of date');
    for (const name of Object.keys(OPTIONS)) assert.ok(doc.includes(`\`${name}\``), `${name} is missing from docs/operations.md`);
  });
});
