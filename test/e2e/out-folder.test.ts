import { expect } from 'chai';
import { execa } from 'execa';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const scenario = join(root, 'test/e2e/fixtures/scenarios/strict-and-permissive.yaml');

describe("run --out: checked before any work, and latest is only ever meshconform's", function () {
  this.timeout(120_000);
  const made: string[] = [];
  const temp = () => {
    const d = mkdtempSync(join(tmpdir(), 'mc-out-e2e-'));
    made.push(d);
    return d;
  };
  after(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const run = (out: string) => execa(process.execPath, [bin, 'run', scenario, '--out', out, '--local-subnet', '127.240'], { cwd: root, env: { NO_COLOR: '1' }, reject: false });

  it('a file as --out: exit 2 naming it, before the run starts', async () => {
    const file = join(temp(), 'reports');
    writeFileSync(file, 'not a folder');
    const r = await run(file);
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr).to.include(`--out ${file} is a file`);
    expect(r.stdout, 'the run must not have started').not.to.include('meshconform: run');
    expect(r.stderr).not.to.match(/\n\s+at /);
    expect(readFileSync(file, 'utf8')).to.equal('not a folder');
  });

  it("--out whose latest is the user's own folder: exit 2 before the run, the folder untouched", async () => {
    const out = temp();
    mkdirSync(join(out, 'latest'));
    writeFileSync(join(out, 'latest', 'notes.txt'), 'mine');
    const r = await run(out);
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr).to.include(join(out, 'latest')).and.include('Move it away or choose another --out');
    expect(r.stdout).not.to.include('meshconform: run');
    expect(readdirSync(out)).to.deep.equal(['latest']);
    expect(readFileSync(join(out, 'latest', 'notes.txt'), 'utf8')).to.equal('mine');
  });

  it('a finished run makes latest a link to its run folder, and the next run moves it', async () => {
    const out = temp();
    const first = await run(out);
    expect(first.exitCode, first.stderr).to.equal(0);
    expect(lstatSync(join(out, 'latest')).isSymbolicLink()).to.equal(true);
    const firstId = (JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { runId: string }).runId;
    const second = await run(out);
    expect(second.exitCode, second.stderr).to.equal(0);
    const secondId = (JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { runId: string }).runId;
    expect(secondId).not.to.equal(firstId);
    expect(readdirSync(out).sort()).to.deep.equal([firstId, secondId, 'latest'].sort());
  });
});
