/** The connection layer's pure parts (src/http/connections.ts); its behaviour is tested over sockets in test/integration/slow-clients.test.ts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionCap, openFileLimit, rawErrorResponse } from '../../src/http/connections.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('connection bound', () => {
  it('reads the soft open-file limit of the process', () => {
    assert.equal(openFileLimit(() => LIMITS), 1024);
    assert.equal(openFileLimit(() => LIMITS.replace('1024   ', 'unlimited')), null);
    assert.equal(
      openFileLimit(() => {
        throw new Error('ENOENT');
      }),
      null,
    );
    if (process.platform === 'linux') assert.ok((openFileLimit() ?? 0) > 0, 'on Linux the real limit is read');
  });

  it('auto keeps a tenth of the descriptors (at least 128) for everything but connections; a number wins', () => {
    assert.equal(connectionCap('auto', 1024), 896);
    assert.equal(connectionCap('auto', 20_000), 18_000);
    assert.equal(connectionCap('auto', 100), 1);
    assert.equal(connectionCap('auto', null), null);
    assert.equal(connectionCap(5000, 1024), 5000);
  });

  it('answers in the error shape with a length that matches', () => {
    const raw = rawErrorResponse(503, 'Service Unavailable', { error: { code: 'unavailable', message: 'Full: retry. — ok' } }, 1);
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    assert.match(head, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(head, /\r\nConnection: close\r\n/);
    assert.match(head, /\r\nRetry-After: 1\r\n/);
    assert.equal(Number(/Content-Length: (\d+)/.exec(head)?.[1]), Buffer.byteLength(body));
    assert.deepEqual(JSON.parse(body), { error: { code: 'unavailable', message: 'Full: retry. — ok' } });
  });
});
