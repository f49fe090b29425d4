import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const fixture = (name: string) => join(root, 'test/fixtures', name);
const dataPlane = (name: string) => `exec:${process.execPath} ${fixture(`data-planes/${name}.mjs`)}`;
const STRICT = fixture('scenarios/strict-one-port.yaml');

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  file(name: string): string;
  report(): RunResult;
}

/** The real CLI in its own process, private TMPDIR and --out; the folders go when the test is done. */
async function run(args: readonly string[]): Promise<Run> {
  const tmp = mkdtempSync(join(tmpdir(), 'mc-evidence-tmp-'));
  const out = mkdtempSync(join(tmpdir(), 'mc-evidence-out-'));
  cleanups.push(() => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });
  const r = await execa(process.execPath, [bin, 'run', ...args, '--out', out], { cwd: root, env: { TMPDIR: tmp, NO_COLOR: '1' }, reject: false, timeout: 120_000 });
  const file = (name: string) => readFileSync(join(out, 'latest', name), 'utf8');
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, file, report: () => JSON.parse(file('report.json')) as RunResult };
}
const cleanups: (() => void)[] = [];

describe('run: evidence from misbehaving data planes (real processes)', function () {
  this.timeout(180_000);
  after(() => cleanups.splice(0).forEach((f) => f()));

  it('a data plane that lets the first connection of a port through, then enforces STRICT: the admission is a fail, never flaky', async () => {
    // --concurrency 1: the first probe of the port (plaintext-tcp) is the one the fixture lets through.
    const c = await run([
      STRICT,
      '--data-plane',
      dataPlane('first-connection-open'),
      '--concurrency',
      '1',
      '--retries',
      '2',
      '--reporter',
      'console,json,junit,conformance',
      '--impl-name',
      'first-open',
      '--impl-version',
      '1',
    ]);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(1);
    const r = c.report();
    expect(r.summary).to.deep.include({ cells: 9, passed: 8, failed: 1, flaky: 0, errors: 0 });
    const cell = r.scenarios[0]!.cells.find((x) => x.client === 'plaintext-tcp')!;
    expect(cell.verdict).to.equal('fail');
    expect(cell.observed?.status).to.equal('allowed');
    expect(cell.reason).to.contain('expected deny').and.contain('the application answered over plaintext');
    expect(c.file('junit.xml')).to.match(/<testsuites[^>]*failures="1"/);
    expect(c.file('conformance.yaml'))
      .to.match(/^\s+result: failure$/m)
      .and.not.match(/^\s+result: success$/m);
  });

  it('a data plane that accepts TCP and never answers: every cell is an error (exit 2), no deny cell passes on a timeout', async () => {
    const c = await run([STRICT, '--data-plane', dataPlane('silent'), '--timeout', '400', '--retries', '1', '--reporter', 'json']);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(2);
    const r = c.report();
    expect(r.summary).to.deep.include({ cells: 9, passed: 0, failed: 0, flaky: 0, errors: 9 });
    for (const cell of r.scenarios[0]!.cells) {
      expect(cell.observed?.status, cell.key).to.equal('error');
      expect(cell.reason, cell.key).to.contain('no other probe of foo/finance:8080 got an answer or a refusal in the same round');
    }
  });

  it('an exec: data plane on an ambient-only scenario probes nothing: exit 2 naming why, not "0 cells" and success', async () => {
    const c = await run([join(root, 'scenarios/ambient/ambient-namespace-strict.yaml'), '--data-plane', dataPlane('silent'), '--reporter', 'json']);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(2);
    expect(c.stderr).to.contain('nothing to probe').and.contain('does not implement ambient mode').and.contain('--mesh-modes');
    expect(c.stderr).to.not.match(/\n\s+at /);
  });
});
