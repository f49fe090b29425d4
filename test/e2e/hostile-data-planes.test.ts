import { expect } from 'chai';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';

/**
 * Data planes that misbehave on purpose (test/fixtures/hostile-data-planes), run through the real CLI on the local
 * backend: a run must end, stop whole process trees, keep bounded logs, print their text safely and leave nothing.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const scenario = join(root, 'test/e2e/fixtures/scenarios/strict-and-permissive.yaml');
const hostile = (name: string) => `exec:${process.execPath} ${join(root, 'test/fixtures/hostile-data-planes', `${name}.mjs`)}`;

/** Processes alive that were started with this TMPDIR (every child of a run inherits it, `sleep` grandchildren too). */
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

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const ours = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith('tsx-'));

interface Started {
  child: ResultPromise<{ reject: false; timeout: number }>;
  tmp: string;
  out: string;
  marks: string;
  state: string;
}

const made: string[] = [];
const dir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};

function start(args: string[], env: Record<string, string> = {}): Started {
  const tmp = dir('mc-hostile-tmp-');
  const out = dir('mc-hostile-out-');
  const marks = dir('mc-hostile-marks-');
  const state = dir('mc-hostile-state-');
  const child = execa(process.execPath, [bin, ...args, '--out', out], {
    cwd: root,
    env: { TMPDIR: tmp, NO_COLOR: '1', MARK_DIR: marks, MESHCONFORM_STATE_DIR: state, ...env },
    reject: false,
    // A hang is the failure some of these tests look for: bounded, so it shows as a failed test.
    timeout: 90_000,
  });
  return { child, tmp, out, marks, state };
}

/** Whatever the run left: processes (after a bounded wait for ones being killed) and files in its TMPDIR. */
async function leftovers(s: Started): Promise<{ processes: number[]; files: string[] }> {
  await until(() => processesWith(s.tmp).length === 0, 3000);
  return { processes: processesWith(s.tmp), files: ours(s.tmp) };
}

const report = (s: Started) => JSON.parse(readFileSync(join(s.out, 'latest', 'report.json'), 'utf8')) as RunResult;

describe('hostile data planes (local backend, real CLI)', function () {
  this.timeout(150_000);
  after(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("a grandchild holding the data plane's stdout/stderr does not hang the run; the whole tree is stopped", async () => {
    const s = start(['run', scenario, '--data-plane', hostile('pipe-holder'), '--local-subnet', '127.241', '--retries', '0']);
    const r = await s.child;
    expect(r.timedOut, 'the run hung').to.equal(false);
    // An open proxy on a STRICT port: a mismatch, judged and reported.
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
  });

  it('a data plane that exits mid-run while a grandchild holds its pipes: noticed at once (error cells), no hang', async () => {
    const s = start(['run', scenario, '--data-plane', hostile('pipe-holder'), '--local-subnet', '127.242', '--retries', '0'], { EXIT_AFTER_READY: '1' });
    const r = await s.child;
    expect(r.timedOut, 'the run hung').to.equal(false);
    expect(r.exitCode, r.stderr).to.equal(2);
    const rep = report(s);
    expect(rep.summary.passed, 'nothing may pass after the data plane died').to.equal(0);
    expect(rep.scenarios[0]!.cells.some((c) => /exit code 3/.test(c.reason ?? ''))).to.equal(true);
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
  });

  it("a data plane's own children (a forked `sleep 3600`) are stopped with it", async () => {
    const s = start(['run', scenario, '--data-plane', hostile('forker'), '--local-subnet', '127.243', '--retries', '0']);
    const r = await s.child;
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
  });

  it("SIGINT while a scenario's teardown waits for data planes that ignore SIGTERM: the CLI waits for the SIGKILL, nothing runs on", async () => {
    const s = start(['run', scenario, '--data-plane', hostile('sigterm-ignorer'), '--local-subnet', '127.244', '--retries', '0']);
    // The data planes mark the SIGTERM of the teardown: interrupt exactly then.
    const inTeardown = await until(() => readdirSync(s.marks).some((n) => n.startsWith('sigterm-')), 60_000);
    expect(inTeardown, 'the teardown never began').to.equal(true);
    s.child.kill('SIGINT');
    const r = await s.child;
    expect(r.exitCode, r.stderr).to.equal(130);
    // The data planes' pids, from their marks: none may outlive the CLI.
    const pids = readdirSync(s.marks).map((n) => Number(n.slice('sigterm-'.length)));
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    await until(() => processesWith(s.tmp).length === 0, 1000);
    expect({ alive, processes: processesWith(s.tmp), files: ours(s.tmp) }).to.deep.equal({ alive: [], processes: [], files: [] });
  });

  it('a data plane flooding stdout and stderr: the harness keeps a bounded tail (memory stays flat)', async () => {
    // It floods before it listens, so the whole flood happens while the harness waits for readiness.
    const s = start(['run', scenario, '--data-plane', hostile('flood'), '--local-subnet', '127.245', '--retries', '0', '--ready-timeout', '120000'], { FLOOD_MB: '300' });
    let peakKb = 0;
    const pid = s.child.pid!;
    const sampler = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited
      }
    }, 100);
    const r = await s.child.finally(() => clearInterval(sampler));
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(
      readdirSync(s.marks).some((n) => n.startsWith('flooded-')),
      'the flood did not complete',
    ).to.equal(true);
    // 600 MB went through the pipes; a bounded harness stays far below that.
    expect(peakKb, 'peak resident memory of the CLI (kB)').to.be.below(350_000);
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
  });

  it("escape sequences in a data plane's stderr are printed escaped, never raw, in the start-failure message", async () => {
    const s = start(['run', scenario, '--data-plane', hostile('ansi-at-start'), '--local-subnet', '127.246']);
    const r = await s.child;
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/exited at start \(exit code 1\)/);
    expect(r.stderr, 'raw control characters reached the terminal').not.to.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(r.stderr).to.include('\\u001b]0;pwned\\u0007');
  });

  it("reap after kill -9 of the CLI removes the local run's echo app, data planes and key folder", async () => {
    const s = start(['run', scenario, '--data-plane', hostile('never-ready'), '--local-subnet', '127.247', '--ready-timeout', '120000']);
    const up = await until(() => readdirSync(s.marks).filter((n) => n.startsWith('started-')).length === 2, 60_000);
    expect(up, 'the data planes never started').to.equal(true);
    s.child.kill('SIGKILL');
    await s.child;
    // The crash left them: the echo app, two data planes, a folder with private keys.
    expect(processesWith(s.tmp).length).to.be.at.least(3);
    expect(ours(s.tmp).some((n) => n.startsWith('meshconform-local-'))).to.equal(true);
    const env = { TMPDIR: s.tmp, NO_COLOR: '1', MESHCONFORM_STATE_DIR: s.state };
    const reap = await execa(process.execPath, [bin, 'reap', '--backend', 'local'], { cwd: root, env, reject: false });
    expect(reap.exitCode, reap.stderr).to.equal(0);
    expect(reap.stdout).to.match(/host: reaped 1 run\(s\): 3 process group\(s\), 1 folder\(s\)/);
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
    expect(readdirSync(s.state), 'the run-state file').to.deep.equal([]);
    const again = await execa(process.execPath, [bin, 'reap', '--backend', 'local'], { cwd: root, env, reject: false });
    expect(again.stdout).to.match(/host: nothing to reap/);
  });

  it('reap keeps a local run whose CLI is still alive', async () => {
    const s = start(['run', scenario, '--data-plane', hostile('never-ready'), '--local-subnet', '127.248', '--ready-timeout', '120000']);
    try {
      expect(await until(() => readdirSync(s.marks).length === 2, 60_000)).to.equal(true);
      const reap = await execa(process.execPath, [bin, 'reap', '--backend', 'local'], { cwd: root, env: { MESHCONFORM_STATE_DIR: s.state }, reject: false });
      expect(reap.stdout).to.match(/host: kept run \S+: its process \d+ is still running/);
      expect(existsSync(join(s.tmp)) && ours(s.tmp).some((n) => n.startsWith('meshconform-local-'))).to.equal(true);
    } finally {
      s.child.kill('SIGTERM');
      await s.child;
    }
    expect(await leftovers(s)).to.deep.equal({ processes: [], files: [] });
  });
});
