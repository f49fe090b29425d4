// `run --only-cell` and `run --rerun-failed` through the real CLI: exactly the chosen cells run, nothing else.
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellResult, RunResult } from '../../src/model/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const core = join('scenarios', 'core');

const outs: string[] = [];
async function cli(args: string[]): Promise<{ exitCode: number | undefined; stderr: string; out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'mc-rerun-out-'));
  outs.push(out);
  const r = await execa(process.execPath, [bin, 'run', ...args, '--out', out, '--reporter', 'json'], { cwd: root, reject: false, timeout: 200_000, env: { NO_COLOR: '1' } });
  return { exitCode: r.exitCode, stderr: r.stderr, out };
}
const report = (out: string) => JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
const cells = (r: RunResult): CellResult[] => r.scenarios.flatMap((s) => s.cells);
const bad = (c: CellResult) => c.verdict === 'fail' || c.verdict === 'flaky' || c.verdict === 'error';

describe('run --only-cell and --rerun-failed', function () {
  this.timeout(400_000);
  let first: RunResult;
  let firstOut: string;
  before(async () => {
    const r = await cli([core, '--defect', 'strict-accepts-plaintext']);
    expect(r.exitCode, r.stderr).to.equal(1);
    firstOut = r.out;
    first = report(r.out);
  });
  after(() => {
    for (const o of outs) rmSync(o, { recursive: true, force: true });
  });

  it("--rerun-failed reruns exactly the failing cells, from their scenario files, with the earlier run's flags", async () => {
    const failing = cells(first).filter(bad);
    expect(failing.length).to.be.greaterThan(0);
    expect(cells(first).length).to.be.greaterThan(failing.length);
    const r = await cli(['--rerun-failed', join(firstOut, 'latest', 'report.json')]);
    expect(r.exitCode, r.stderr).to.equal(1);
    const again = report(r.out);
    expect(
      cells(again)
        .map((c) => c.key)
        .sort(),
    ).to.deep.equal(failing.map((c) => c.key).sort());
    expect(again.options.flags).to.deep.include({ defect: ['strict-accepts-plaintext'], backend: 'local', claim: 'spec' });
    const files = new Set(first.scenarios.filter((s) => s.cells.some(bad)).map((s) => s.file));
    expect(new Set(again.options.paths)).to.deep.equal(files);
    expect(cells(again).every((c) => c.verdict === 'fail')).to.equal(true);
  });

  it('a flag given on the command line wins over the earlier run: another defect, the same cells, now passing', async () => {
    const r = await cli(['--rerun-failed', join(firstOut, 'latest', 'report.json'), '--defect', 'strict-http-accepts-plaintext']);
    const again = report(r.out);
    expect(again.options.flags?.defect).to.deep.equal(['strict-http-accepts-plaintext']);
    expect(again.summary.cells).to.equal(cells(first).filter(bad).length);
    // The planted defect opens only HTTP-declared STRICT ports; the failing cells of the first run were TCP ones.
    expect(
      again.summary.failed,
      JSON.stringify(
        cells(again)
          .filter(bad)
          .map((c) => c.key),
      ),
    ).to.equal(0);
    expect(r.exitCode, r.stderr).to.equal(0);
  });

  it('--only-cell runs one cell; a key naming no cell is exit 2 naming it; a report with nothing failing is exit 2', async () => {
    const key = cells(first).find((c) => c.verdict === 'pass')!.key;
    const one = await cli([core, '--only-cell', key]);
    expect(one.exitCode, one.stderr).to.equal(0);
    expect(cells(report(one.out)).map((c) => c.key)).to.deep.equal([key]);
    expect(report(one.out).scenarios.length).to.equal(1);
    // A passing run still keeps every data plane's whole log beside its report; no cell carries evidence.
    const logs = report(one.out).scenarios[0]!.attachments ?? [];
    expect(logs.length).to.be.greaterThan(0);
    expect(logs.every((a) => a.id.startsWith('log-') && existsSync(join(one.out, 'latest', 'evidence', `${a.id}.txt`)))).to.equal(true);
    expect(logs.map((a) => a.text).join('\n')).to.match(/reference-sidecar: .* -> /);
    expect(cells(report(one.out))[0]!.evidence).to.equal(undefined);

    const unknown = await cli([core, '--only-cell', 'no-such|sidecar|foo/a|1|plaintext-tcp']);
    expect(unknown.exitCode).to.equal(2);
    expect(unknown.stderr).to.match(/--only-cell: 1 key\(s\) name no cell of these scenarios .*no-such\|sidecar\|foo\/a\|1\|plaintext-tcp/);
    expect(unknown.stderr).to.not.match(/\n\s+at /);

    const none = await cli(['--rerun-failed', join(one.out, 'latest', 'report.json')]);
    expect(none.exitCode).to.equal(2);
    expect(none.stderr).to.match(/has no failing, flaky or error cell: nothing to rerun/);
  });
});
