/**
 * deploy/parley.service passes `systemd-analyze verify` with no warning at all: a key systemd
 * does not know, a value it cannot parse, a command that is not there. systemd ignores such
 * lines and starts the unit anyway, without the setting meant (a misspelt `LimitNOFILE` would
 * leave the node at 1,024 sockets), so a warning fails the test even though the tool exits 0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireBinary } from '../support/services.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** `systemd-analyze verify` of one unit file: its exit code and everything it printed. */
function verify(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(SYSTEMD_ANALYZE as string, ['verify', '--man=no', file], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, output: `${stdout}${stderr}`.trim() });
    });
  });
}

if (requireBinary(SYSTEMD_ANALYZE, 'systemd-analyze', 'the systemd unit')) {
  describe('deploy/parley.service', () => {
    let dir: string;
    let unit: string;

    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'parley-systemd-'));
      // verify checks that each command exists and is executable. The unit names /usr/bin/node
      // (where the distributions' and NodeSource's packages put it); on a machine whose node is
      // elsewhere (nvm, /usr/local/bin) the copy names the node running this test instead, so
      // the check is of the unit, not of this machine. Its script, /opt/parley/bin/parley.js, is
      // an argument, which verify does not look for. The copy keeps the file's name: verify
      // takes the unit's name from it.
      const source = readFileSync(path.join(ROOT, 'deploy', 'parley.service'), 'utf8');
      assert.match(source, /^ExecStart=\/usr\/bin\/node /m, 'ExecStart runs node');
      unit = path.join(dir, 'parley.service');
      writeFileSync(unit, source.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    });
    after(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('passes systemd-analyze verify without a warning', async () => {
      assert.deepEqual(await verify(unit), { code: 0, output: '' });
    });

    it('is checked by a verify that does report warnings here', async () => {
      // The same unit with a misspelt key and a bad value: if this machine's systemd-analyze said
      // nothing of them, the test above would prove nothing.
      const broken = path.join(dir, 'broken.service');
      writeFileSync(broken, readFileSync(unit, 'utf8').replace('LimitNOFILE=', 'LimitNOFILES=').replace('Restart=on-failure', 'Restart=sometimes'));
      const result = await verify(broken);
      assert.match(result.output, /Unknown key 'LimitNOFILES'/);
      assert.match(result.output, /restart specifier/);
    });
  });
}
