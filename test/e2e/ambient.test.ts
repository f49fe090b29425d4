// Ambient mode end to end: the CLI with a data plane that cannot do ambient (skipped with the reason), and, when the
// reference ambient data plane is available, the whole built-in ambient suite with real HBONE and real TLS.
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const AMBIENT = join(root, 'scenarios/ambient');

async function cli(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; report: () => RunResult }> {
  const out = mkdtempSync(join(tmpdir(), 'mc-ambient-out-'));
  try {
    const r = await execa(process.execPath, [bin, ...args, '--out', out], { cwd: root, env: { NO_COLOR: '1' }, reject: false, timeout: 300_000 });
    const file = join(out, 'latest', 'report.json');
    const report = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RunResult) : undefined;
    return {
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      report: () => {
        if (report === undefined) throw new Error(`no report.json; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        return report;
      },
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('ambient mode through the CLI', function () {
  this.timeout(300_000);

  it('a data plane that implements sidecar mode only runs the sidecar half of a both scenario and skips the ambient half with the reason', async () => {
    const sidecarOnly = `exec:${process.execPath} ${join(root, 'harness/reference/sidecar.mjs')}`;
    const c = await cli(['run', join(AMBIENT, 'both-namespace-strict.yaml'), join(AMBIENT, 'ambient-namespace-strict.yaml'), '--data-plane', sidecarOnly, '--reporter', 'console,json']);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(0);
    const r = c.report();
    const units = r.scenarios.map((s) => [s.name, s.meshMode, s.skipped === undefined ? s.summary.passed : 'skipped']);
    expect(units).to.deep.equal([
      ['both-namespace-strict', 'sidecar', 18],
      ['both-namespace-strict', 'ambient', 'skipped'],
      ['ambient-namespace-strict', 'ambient', 'skipped'],
    ]);
    for (const s of r.scenarios.filter((x) => x.skipped !== undefined)) {
      expect(s.skipped).to.include('does not implement ambient mode').and.include('--data-plane reference-ambient');
      expect(s.cells).to.deep.equal([]);
    }
    expect(r).to.not.have.property('differentials');
    expect(c.stdout).to.include('skipped: data plane exec:');
  });
});
