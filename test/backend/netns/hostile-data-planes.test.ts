import { expect } from 'chai';
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../../../src/model/index.js';
import { requireCapability } from '../../support/require.js';
import { NETNS, NOTHING, bin, e2eScenario, leftovers, namespacesOf, netnsAvailable, processesWith, removeTempDirs, root, tempDir, until } from './support.js';

const hostile = (name: string) => `exec:${process.execPath} ${join(root, 'test/fixtures/hostile-data-planes', `${name}.mjs`)}`;

/** The CLI in the background with its own TMPDIR, marks folder and run-state folder. */
function start(args: string[], env: Record<string, string> = {}) {
  const tmp = tempDir('mc-netns-hostile-tmp-', 0o777);
  const out = tempDir('mc-netns-hostile-out-', 0o777);
  const marks = tempDir('mc-netns-hostile-marks-', 0o777);
  const state = tempDir('mc-netns-hostile-state-');
  const child = execa(process.execPath, [bin, ...args, '--out', out], {
    cwd: root,
    env: { TMPDIR: tmp, NO_COLOR: '1', MARK_DIR: marks, MESHCONFORM_STATE_DIR: state, ...env },
    reject: false,
    // A hang is what one test looks for: bounded, so it shows as a failure.
    timeout: 90_000,
  });
  return { child, tmp, out, marks, state };
}

describe('hostile data planes on the netns backend', function () {
  this.timeout(150_000);
  let available = false;
  before(async () => {
    available = await netnsAvailable();
  });
  after(removeTempDirs);

  it('a data plane that exits mid-run while a grandchild holds its pipes: noticed (error cells), no hang, nothing left', async function () {
    requireCapability(this, available, NETNS);
    const s = start(['run', e2eScenario('strict-and-permissive'), '--backend', 'netns', '--data-plane', hostile('pipe-holder'), '--retries', '0'], { EXIT_AFTER_READY: '1' });
    const r = await s.child;
    expect(r.timedOut, 'the run hung').to.equal(false);
    expect(r.exitCode, r.stderr).to.equal(2);
    const rep = JSON.parse(readFileSync(join(s.out, 'latest', 'report.json'), 'utf8')) as RunResult;
    expect(rep.summary.passed).to.equal(0);
    expect(rep.scenarios[0]!.cells.some((c) => /exit code 3/.test(c.reason ?? ''))).to.equal(true);
    expect(await leftovers(rep.runId, s.tmp)).to.deep.equal(NOTHING);
  });

  it('reap after kill -9 of the CLI removes the meshconform-netns-* folder holding private keys, with the namespaces', async function () {
    requireCapability(this, available, NETNS);
    const s = start(['run', e2eScenario('strict-and-permissive'), '--backend', 'netns', '--data-plane', hostile('never-ready'), '--ready-timeout', '120000']);
    expect(await until(() => readdirSync(s.marks).length === 2, 60_000), 'the data planes never started').to.equal(true);
    s.child.kill('SIGKILL');
    const r = await s.child;
    const id = /run (\S+):/.exec(r.stdout)![1]!;
    const folders = readdirSync(s.tmp).filter((n) => n.startsWith('meshconform-netns-'));
    expect(folders, 'the crash left the key folder').to.have.length(1);
    expect(readdirSync(join(s.tmp, folders[0]!)).some((n) => n.endsWith('-key.pem'))).to.equal(true);
    const reap = await execa(process.execPath, [bin, 'reap', '--backend', 'netns'], { cwd: root, env: { MESHCONFORM_STATE_DIR: s.state, NO_COLOR: '1' }, reject: false });
    expect(reap.exitCode, reap.stderr).to.equal(0);
    expect(reap.stdout).to.match(/host: reaped 1 run\(s\): \d+ process group\(s\), 1 folder\(s\)/);
    expect(reap.stdout).to.contain(`folder ${join(s.tmp, folders[0]!)}`);
    expect(await namespacesOf(id)).to.deep.equal([]);
    await until(() => processesWith(s.tmp).length === 0, 3000);
    expect(await leftovers(id, s.tmp)).to.deep.equal(NOTHING);
    expect(readdirSync(s.state)).to.deep.equal([]);
  });
});
