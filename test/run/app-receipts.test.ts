// End to end (real CLI, real processes): a data plane that hands STRICT-port plaintext to the application and then
// swallows the answer and resets the client. The client alone would see a denial (a false pass); the application's
// receipts make those cells fail.
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';
import { validateRunResult } from '../../src/report/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const STRICT = join(root, 'test/fixtures/scenarios/strict-one-port.yaml');
const SWALLOW = `exec:${process.execPath} ${join(root, 'test/fixtures/data-planes/plaintext-swallow.mjs')}`;

describe('run: application-side receipts (real processes, local backend)', function () {
  this.timeout(180_000);
  const cleanups: (() => void)[] = [];
  after(() => cleanups.splice(0).forEach((f) => f()));

  it('a data plane that forwards STRICT plaintext to the app and resets the client fails those cells on the receipts', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mc-receipts-tmp-'));
    const out = mkdtempSync(join(tmpdir(), 'mc-receipts-out-'));
    cleanups.push(() => {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    });
    const r = await execa(process.execPath, [bin, 'run', STRICT, '--data-plane', SWALLOW, '--retries', '1', '--reporter', 'json', '--out', out], {
      cwd: root,
      env: { TMPDIR: tmp, NO_COLOR: '1' },
      reject: false,
      timeout: 120_000,
    });
    expect(r.exitCode, r.stdout + r.stderr).to.equal(1);
    const report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    // The receipt is part of the published report format.
    expect(validateRunResult(report)).to.deep.include({ valid: true });
    expect(report.summary).to.deep.include({ cells: 9, passed: 7, failed: 2, flaky: 0, errors: 0 });
    for (const client of ['plaintext-tcp', 'plaintext-http']) {
      const cell = report.scenarios[0]!.cells.find((c) => c.client === client)!;
      expect(cell.verdict, client).to.equal('fail');
      // What the client saw was a denial; the receipt is what proves the violation. Not retried: one attempt.
      expect(cell.observed?.status, client).to.equal('denied');
      expect(cell.observed?.receipt, client).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext' });
      expect(cell.observed?.attempts, client).to.equal(1);
      expect(cell.reason, client).to.contain("the application received the client's plaintext (its receipt of this probe) although the client was denied");
    }
    // The TLS clients went through the reference sidecar: no receipt turns their verdicts.
    for (const cell of report.scenarios[0]!.cells.filter((c) => !c.client.startsWith('plaintext-'))) expect(cell.verdict, cell.key).to.equal('pass');
  });
});
