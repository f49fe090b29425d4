import { expect } from 'chai';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../../src/model/index.js';
import { BIN, ROOT, tempDir, writeScenario } from './helpers.js';

const SIDECAR = join(ROOT, 'harness/reference/sidecar.mjs');
/** The reference sidecar started through exec: with the clock offset removed from its environment: it ignores it. */
const IGNORES_OFFSET = `exec:env -u MESHCONFORM_CLOCK_OFFSET_MS ${process.execPath} ${SIDECAR}`;

/** Every run of this file, one after another, on 127.62: below 127.64, which the local backend never picks at random. */
async function run(paths: string[], out: string, ...args: string[]) {
  const r = await execa(process.execPath, [BIN, 'run', ...paths, '--out', out, '--reporter', 'json', '--local-subnet', '127.62', ...args], {
    cwd: ROOT,
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 240_000,
  });
  let report: RunResult | undefined;
  try {
    report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
  } catch {
    report = undefined;
  }
  return { ...r, report };
}

/** A tiny clock-skew scenario: one STRICT port, the mesh and the "expired" client, a skew of 36 h back. */
function skewScenario(dir: string, name: string): string {
  return writeScenario(dir, name, {
    chaos: [
      '    duration: 1800ms',
      '    clients: [mtls, mtls-expired]',
      '    steps:',
      '      - { at: 300ms, fault: clock-skew, workload: foo/finance, offset: -36h, duration: 900ms }',
    ].join('\n'),
  });
}

describe('canaries demand positive evidence', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('a data plane that ignores the clock offset while the harness is CPU-starved: error in 20 of 20 trials, never a failure, never a pass', async () => {
    const files = Array.from({ length: 20 }, (_, i) => skewScenario(tmp.path, `starved-trial-${String(i + 1).padStart(2, '0')}`));
    // Two busy processes on the machine's cores: probes time out and slow down, which a canary must never take for
    // the fault's effect. Killed by pid whatever happens.
    const busy: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' }));
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(files, join(tmp.path, 'out'), '--data-plane', IGNORES_OFFSET, '--capabilities', 'clock-offset', '--retries', '0');
    } finally {
      for (const b of busy) if (b.pid !== undefined) process.kill(b.pid, 'SIGKILL');
    }
    expect(r.report, r.stderr).to.not.equal(undefined);
    const scenarios = r.report!.scenarios;
    expect(scenarios).to.have.length(20);
    for (const s of scenarios) {
      expect(s.summary.failed, `${s.name}: ${s.cells.map((c) => `${c.client} ${c.verdict}: ${c.reason}`).join('\n')}`).to.equal(0);
      expect(s.summary.passed, s.name).to.equal(0);
      expect(s.summary.errors, s.name).to.equal(s.cells.length);
      expect(s.error, s.name).to.match(/the canary of fault "clock-skew -129600000 ms on foo\/finance" failed/);
    }
    expect(r.exitCode).to.equal(2);
  });

  it('the reference data plane, which honours the offset, proves the same skew with an allow only the offset explains', async () => {
    const file = skewScenario(tmp.path, 'honoured');
    const r = await run([file], join(tmp.path, 'out-ref'), '--retries', '0');
    const s = r.report!.scenarios[0]!;
    const canary = s.timeline!.faults[0]!.canary!;
    expect(canary.ok, JSON.stringify(canary.checks)).to.equal(true);
    expect(canary.checks.find((c) => c.name === 'certificate validity judged at the skewed clock')!.detail).to.match(/first mtls-expired at/);
    expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
  });
});

describe('what a data plane implements (--capabilities)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('an exec: data plane declares none of the optional parts by default: a scenario needing one is skipped with the reason and the flag', async () => {
    const file = skewScenario(tmp.path, 'undeclared');
    const r = await run([file], join(tmp.path, 'out'), '--data-plane', `exec:${process.execPath} ${SIDECAR}`);
    const s = r.report!.scenarios[0]!;
    expect(s.skipped).to.match(/does not declare clock-offset, which the clock-skew fault needs; if it does, declare it with --capabilities clock-offset/);
    expect(s.cells).to.deep.equal([]);
    // Nothing else ran, so the run as a whole proves nothing (exit 2), saying why.
    expect(r.stderr).to.match(/nothing was probed .*declare it with --capabilities clock-offset/);
    expect(r.exitCode).to.equal(2);
  });

  it('declared with --capabilities, the same data plane runs the scenario (and passes: it honours the offset)', async () => {
    const file = skewScenario(tmp.path, 'declared');
    const r = await run([file], join(tmp.path, 'out'), '--data-plane', `exec:${process.execPath} ${SIDECAR}`, '--capabilities', 'clock-offset,tls-reload');
    const s = r.report!.scenarios[0]!;
    expect(s.skipped).to.equal(undefined);
    expect(s.summary.passed, JSON.stringify(s.cells.map((c) => c.reason))).to.equal(s.cells.length);
    expect(r.exitCode).to.equal(0);
  });

  it('an unknown capability, --capabilities on a built-in data plane and several workloads per process undeclared are usage errors (exit 2)', async () => {
    const file = skewScenario(tmp.path, 'usage');
    const unknown = await run([file], join(tmp.path, 'o1'), '--data-plane', `exec:${process.execPath} ${SIDECAR}`, '--capabilities', 'clock-offset,time-travel');
    expect(unknown.exitCode).to.equal(2);
    expect(unknown.stderr).to.match(/--capabilities: unknown capability "time-travel" \(clock-offset, tls-reload, policy-reload, multi-workload, reuse\)/);
    const builtIn = await run([file], join(tmp.path, 'o2'), '--capabilities', 'clock-offset');
    expect(builtIn.exitCode).to.equal(2);
    expect(builtIn.stderr).to.match(/--capabilities declares what an exec: data plane implements/);
    const multi = await run([file], join(tmp.path, 'o3'), '--data-plane', `exec:${process.execPath} ${SIDECAR}`, '--workloads-per-process', '2');
    expect(multi.exitCode).to.equal(2);
    expect(multi.stderr).to.match(/declare it with --capabilities multi-workload/);
    expect(multi.stderr + unknown.stderr + builtIn.stderr).not.to.match(/\n\s+at /);
  });
});
