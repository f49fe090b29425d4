// Application-side receipts on the netns backend: a data plane that hands STRICT plaintext to the application and
// resets the client fails on the echo app's receipts (written to the harness's folder, which a namespace shares).
import { expect } from 'chai';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../../../src/model/index.js';
import { requireCapability } from '../../support/require.js';
import { NETNS, NOTHING, bin, leftovers, netnsAvailable, removeTempDirs, root, tempDir } from './support.js';

describe('netns backend: application-side receipts', function () {
  this.timeout(150_000);
  let available = false;
  before(async () => {
    available = await netnsAvailable();
  });
  after(removeTempDirs);

  it('a data plane that forwards STRICT plaintext to the app and resets the client: those cells fail, nothing left', async function () {
    requireCapability(this, available, NETNS);
    const tmp = tempDir('mc-netns-receipts-tmp-', 0o777);
    const out = tempDir('mc-netns-receipts-out-', 0o777);
    const dataPlane = `exec:${process.execPath} ${join(root, 'test/fixtures/data-planes/plaintext-swallow.mjs')}`;
    const r = await execa(
      process.execPath,
      [bin, 'run', join(root, 'test/fixtures/scenarios/strict-one-port.yaml'), '--backend', 'netns', '--data-plane', dataPlane, '--reporter', 'json', '--out', out],
      { cwd: root, env: { TMPDIR: tmp, NO_COLOR: '1' }, reject: false, timeout: 120_000 },
    );
    expect(r.exitCode, r.stdout + r.stderr).to.equal(1);
    const rep = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    expect(rep.summary).to.deep.include({ cells: 9, passed: 7, failed: 2, errors: 0 });
    for (const c of rep.scenarios[0]!.cells.filter((x) => x.client.startsWith('plaintext-'))) {
      expect(c.verdict, c.key).to.equal('fail');
      expect(c.observed?.receipt, c.key).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext' });
      expect(c.reason, c.key).to.contain("the application received the client's plaintext (its receipt of this probe) although the client was denied");
    }
    expect(await leftovers(rep.runId, tmp)).to.deep.equal(NOTHING);
  });
});
