import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';
import { seededRandom } from '../../src/util/seeded-random.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

/** Processes still alive that were started with this TMPDIR (every child of a run inherits it). */
function processesWith(tmp: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`TMPDIR=${tmp}`)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

const ours = (tmp: string) => readdirSync(tmp).filter((n) => !n.startsWith('tsx-'));

describe('interrupts at random points of a run leave nothing behind', function () {
  this.timeout(300_000);
  // Seeded, so a failure names a reproducible schedule.
  const seed = 20261127;
  const random = seededRandom(seed);
  const plans = Array.from({ length: 6 }, (_, i) => ({
    signal: (i % 2 === 0 ? 'SIGINT' : 'SIGTERM') as NodeJS.Signals,
    delayMs: random.int(300, 6000),
    twice: i % 3 === 2,
  }));

  for (const [i, plan] of plans.entries()) {
    it(`#${i} (seed ${seed}): ${plan.signal}${plan.twice ? ' twice' : ''} after ${plan.delayMs} ms`, async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'mc-int-tmp-'));
      const out = mkdtempSync(join(tmpdir(), 'mc-int-out-'));
      try {
        const child = execa(process.execPath, [bin, 'run', join(root, 'scenarios'), '--out', out, '--local-subnet', `127.${51 + (i % 3)}`], {
          cwd: root,
          env: { TMPDIR: tmp, NO_COLOR: '1' },
          reject: false,
        });
        await new Promise((r) => setTimeout(r, plan.delayMs));
        child.kill(plan.signal);
        if (plan.twice) {
          await new Promise((r) => setTimeout(r, 30));
          child.kill('SIGINT');
        }
        const r = await child;
        // Interrupted: 130/143 (a second Ctrl-C exits 130 at once); a run that had already finished exits 0. A signal
        // that lands while Node is still loading the CLI (before it created anything) ends it the default way.
        const ended = r.exitCode ?? r.signal;
        expect([0, 130, 143, plan.signal, 'SIGINT'], `exit ${r.exitCode} signal ${r.signal} ${r.stderr}`).to.include(ended);
        // Children can take a moment to die after a forced exit; wait for them (bounded), then require none.
        for (let k = 0; k < 100 && processesWith(tmp).length > 0; k++) await new Promise((res) => setTimeout(res, 50));
        expect(processesWith(tmp), 'processes left running').to.deep.equal([]);
        expect(ours(tmp), 'temp files (configs, keys) left').to.deep.equal([]);
        expect(r.stderr).not.to.match(/\n\s+at /);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});

describe('determinism: the same suite twice gives the same verdicts', function () {
  this.timeout(300_000);

  // The static suite: chaos scenarios replay the same fault schedule from their seed (test/chaos), but what a probe
  // sees inside a fault window depends on timing.
  // The second run starts every scenario's processes afresh, one per workload (--no-reuse): reusing them, and serving a
  // scenario's workloads from one process, must not change a verdict.
  it('identical cell keys, verdicts and observed outcomes with and without process reuse and packing; the random subnet is in the report', async () => {
    const runs: RunResult[] = [];
    const folders = readdirSync(join(root, 'scenarios'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'chaos')
      .map((d) => join(root, 'scenarios', d.name));
    for (const [subnet, reuse] of [
      ['127.54', true],
      ['127.55', false],
    ] as const) {
      const out = mkdtempSync(join(tmpdir(), 'mc-det-out-'));
      try {
        const args = [bin, 'run', ...folders, '--out', out, '--reporter', 'json', '--local-subnet', subnet, ...(reuse ? [] : ['--no-reuse'])];
        const r = await execa(process.execPath, args, { cwd: root, reject: false });
        expect(r.exitCode, r.stderr).to.equal(0);
        const report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
        expect(report.environment.details?.['localSubnet']).to.equal(subnet);
        // With reuse most environments were served by processes of earlier scenarios; without it none.
        const reused = /^(\d+) of (\d+) starts/.exec(report.environment.details?.['reusedProcesses'] ?? '');
        if (reuse) expect(Number(reused?.[1]), report.environment.details?.['reusedProcesses']).to.be.greaterThan(Number(reused?.[2]) / 2);
        else expect(reused).to.equal(null);
        // With reuse, scenarios of several workloads were served by one process each; without it, one per workload.
        const packed = /^(\d+) data-plane starts served several workloads/.exec(report.environment.details?.['packedProcesses'] ?? '');
        if (reuse) expect(Number(packed?.[1]), report.environment.details?.['packedProcesses']).to.be.greaterThan(10);
        else expect(packed).to.equal(null);
        runs.push(report);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
    const verdicts = (r: RunResult) =>
      Object.fromEntries(
        r.scenarios
          .flatMap((s) => s.cells)
          .map((c) => [c.key, `${c.verdict} ${c.observedOutcome} ${c.observed?.status === 'denied' ? c.observed.how : ''}`])
          .sort(([a], [b]) => (a! < b! ? -1 : 1)),
      );
    expect(verdicts(runs[1]!)).to.deep.equal(verdicts(runs[0]!));
  });
});

/** Every hidden name under `dir` (staging folders, temp links, `.*.tmp` files): a finished writer leaves none. */
function hiddenUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => p.split('/').some((part) => part.startsWith('.')));
}

/** The run folder holds the whole report: every file present and complete. */
function expectWholeReport(dir: string): void {
  const result = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RunResult;
  expect(result.kind).to.equal('RunResult');
  // Every attachment of the run (the data planes' whole logs at least) is beside it, whole.
  const attachments = result.scenarios.flatMap((s) => s.attachments ?? []);
  expect(readdirSync(dir).sort(), dir).to.deep.equal([...(attachments.length > 0 ? ['evidence'] : []), 'index.html', 'junit.xml', 'report.json']);
  for (const a of attachments) expect(readFileSync(join(dir, 'evidence', `${a.id}.txt`), 'utf8'), a.id).to.equal(a.text);
  expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).to.match(/<\/testsuites>\s*$/);
  expect(readFileSync(join(dir, 'index.html'), 'utf8')).to.match(/<\/html>\s*$/);
}

describe('SIGTERM while the report is being written: the whole report or none, and no temp files', function () {
  this.timeout(300_000);
  // Extra delays after the write began, so the signal lands at different steps of it (files, rename, console, latest).
  for (const [i, extraMs] of [0, 3, 12, 40].entries()) {
    it(`#${i}: SIGTERM ${extraMs} ms after the write began`, async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'mc-int-tmp-'));
      const out = mkdtempSync(join(tmpdir(), 'mc-int-out-'));
      try {
        const scenario = join(root, 'test/e2e/fixtures/scenarios/strict-and-permissive.yaml');
        const child = execa(process.execPath, [bin, 'run', scenario, '--out', out, '--retries', '0', '--local-subnet', `127.${56 + i}`], {
          cwd: root,
          env: { TMPDIR: tmp, NO_COLOR: '1' },
          reject: false,
        });
        let exited = false;
        void child.finally(() => (exited = true));
        // The write begins when anything but the up-front write check appears in --out.
        let seen = false;
        let signalled = false;
        while (!exited && !seen) {
          if (readdirSync(out).some((n) => !n.startsWith('.meshconform-write-check'))) {
            seen = true;
            if (extraMs > 0) await new Promise((r) => setTimeout(r, extraMs));
            signalled = child.kill('SIGTERM');
          } else await new Promise((r) => setTimeout(r, 1));
        }
        const r = await child;
        expect(seen, `the run ended before its write was seen: ${r.stderr}`).to.equal(true);
        // With a delay the run may finish its write and exit before the signal: then it is an ordinary finished run.
        expect(signalled ? [0, 143] : [0], `exit ${r.exitCode}: ${r.stderr}`).to.include(r.exitCode);
        expect(hiddenUnder(out), 'staging folders, temp links or temp files left').to.deep.equal([]);
        const runs = readdirSync(out).filter((n) => n !== 'latest');
        expect(runs.length).to.be.at.most(1);
        for (const run of runs) expectWholeReport(join(out, run));
        // "report in …" only once the files are complete and in place.
        const named = /report in (\S+)/.exec(r.stdout)?.[1];
        if (named !== undefined) expectWholeReport(named);
        // An interrupted run never becomes latest. A signal that lands only after the write finished (latest already
        // pointed, the process just exiting) still exits 143; then latest is that whole, uninterrupted report.
        if (readdirSync(out).includes('latest')) {
          expectWholeReport(join(out, 'latest'));
          const latest = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
          expect(latest.interrupted, 'an interrupted run became latest').to.equal(undefined);
          expect(r.stderr).not.to.include('not replaced');
        }
        expect(ours(tmp), 'temp files (configs, keys) left').to.deep.equal([]);
        expect(r.stderr).not.to.match(/\n\s+at /);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});
