/**
 * The catalogue (src/protocol/catalogue.ts) against docs/protocol.md, both ways: every code and
 * close code of the catalogue is documented with the same status and the same advice, and every
 * row of the documented tables is in the catalogue. The server and the SDK import the catalogue.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_STATUS as CLIENT_STATUS } from '../client/errors.js';
import { CLOSE, CLOSE_CODES, ERRORS, ERROR_STATUS } from '../src/protocol/catalogue.js';
import { AppError, CLOSE as SERVER_CLOSE, ERROR_STATUS as SERVER_STATUS } from '../src/errors.js';

const doc = readFileSync('docs/protocol.md', 'utf8');

/** The rows of the markdown table that follows `heading`. */
function table(heading: string): string[][] {
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, `docs/protocol.md has no "${heading}"`);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe('error catalogue', () => {
  it('the server and the SDK use the catalogue itself', () => {
    assert.equal(SERVER_STATUS, ERROR_STATUS);
    assert.equal(CLIENT_STATUS, ERROR_STATUS);
    assert.equal(SERVER_CLOSE, CLOSE);
    for (const code of Object.keys(ERRORS) as Array<keyof typeof ERRORS>) assert.equal(new AppError(code, 'x').status, ERRORS[code].status);
  });

  it('matches the error table of docs/protocol.md, both ways', () => {
    const rows = table('### Errors');
    const documented = new Map(rows.map(([code, status, , retry]) => [code?.replace(/`/g, '') as string, { status: Number(status), retry: retry ?? '' }]));
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ERRORS).sort(), 'the documented codes are the catalogue\'s');
    for (const [code, entry] of Object.entries(ERRORS)) {
      const row = documented.get(code);
      assert.equal(row?.status, entry.status, `${code}: status`);
      assert.ok(row?.retry.includes(entry.retry), `${code}: the documented advice "${row?.retry}" does not say "${entry.retry}"`);
    }
  });

  it('matches the close-code table of docs/protocol.md, both ways', () => {
    const rows = table('### WebSocket close codes');
    const documented = new Map(rows.map(([code, , advice]) => [Number(code), advice ?? '']));
    assert.deepEqual([...documented.keys()].sort(), Object.values(CLOSE_CODES).map((c) => c.code).sort(), 'the documented close codes are the catalogue\'s');
    for (const [name, entry] of Object.entries(CLOSE_CODES)) {
      const advice = documented.get(entry.code) ?? '';
      const noReconnect = /^not reconnect/.test(advice);
      assert.equal(!noReconnect, entry.reconnect, `${name} (${entry.code}): the documented advice "${advice}" and reconnect: ${entry.reconnect} disagree`);
    }
  });
});
