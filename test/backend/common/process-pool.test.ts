import { expect } from 'chai';
import { existsSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessPool, type ProcessPool } from '../../../src/backend/common/process-pool.js';
import { spawnPlain } from '../../../src/backend/common/supervisor.js';
import { running } from '../../../src/backend/process-group.js';

// A data plane in miniature: on SIGHUP it reads the file its variable names (through the link) and prints that file's
// first line, so a test decides what the "reload" answers by what it writes in the config.
const CHILD = `
const fs = require('node:fs');
process.on('SIGHUP', () => process.stdout.write(fs.readFileSync(process.env.CFG, 'utf8').split('\\n')[0] + '\\n'));
process.stdout.write('started ' + fs.readFileSync(process.env.CFG, 'utf8').split('\\n')[0] + '\\n');
setInterval(() => {}, 1000);
`;

describe('process pool: processes reused through a re-pointed config link and SIGHUP (real processes)', function () {
  this.timeout(30_000);
  let dir: string;
  let pool: ProcessPool;
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const reloadOptions = { timeoutMs: 5000, ready: (line: string) => line === 'reloaded', where: 'scenario test' };
  const start = (configFile: string) => pool.spawn('kind-a', spawnPlain, 'test process', [process.execPath, '-e', CHILD], {}, 'CFG', [configFile]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mc-pool-test-'));
    pool = createProcessPool('meshconform-pool-test-');
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a process given back serves the next config after its reload answer; another kind is never taken', async () => {
    const first = await start(write('a.json', 'first'));
    expect(await first.firstLine).to.equal('started first');
    expect(await pool.take('kind-a', [write('x.json', 'reloaded')], reloadOptions), 'nothing idle yet').to.equal(undefined);
    await pool.give(first);
    expect(await pool.take('kind-b', [write('y.json', 'reloaded')], reloadOptions), 'another kind').to.equal(undefined);
    const next = write('b.json', 'reloaded');
    const taken = await pool.take('kind-a', [next], reloadOptions);
    expect(taken?.proc.pid).to.equal(first.proc.pid);
    // The process reads its config through the link, now pointing at the next scenario's file.
    expect(readlinkSync(taken!.links[0]!)).to.equal(next);
    expect(pool.stats()).to.deep.equal({ started: 1, reused: 1, packed: 0, mostWorkloads: 1 });
  });

  it('a process reading several configs (MESHCONFORM_WORKLOAD_CONFIGS) is reused only for as many, each link re-pointed', async () => {
    // The miniature reads the first of its ":"-joined links; the others must be re-pointed all the same.
    const multi = `process.env.CFG = process.env.CFGS.split(':')[0];\n${CHILD}`;
    const p = await pool.spawn('kind-a', spawnPlain, 'test process', [process.execPath, '-e', multi], {}, 'CFGS', [write('a.json', 'one'), write('b.json', 'two')]);
    expect(await p.firstLine).to.equal('started one');
    await pool.give(p);
    expect(await pool.take('kind-a', [write('c.json', 'reloaded')], reloadOptions), 'one file: another size').to.equal(undefined);
    const next = [write('d.json', 'reloaded'), write('e.json', 'reloaded')];
    const taken = await pool.take('kind-a', next, reloadOptions);
    expect(taken?.proc.pid).to.equal(p.proc.pid);
    expect(taken!.links.map((l) => readlinkSync(l))).to.deep.equal(next);
    expect(pool.stats()).to.deep.equal({ started: 1, reused: 1, packed: 2, mostWorkloads: 2 });
  });

  it('a process whose reload answer is not ready is stopped, and take says why', async () => {
    const p = await start(write('a.json', 'first'));
    await p.firstLine;
    await pool.give(p);
    let error: Error | undefined;
    await pool.take('kind-a', [write('bad.json', 'reload-failed')], reloadOptions).catch((err: Error) => (error = err));
    expect(error?.message).to.match(/scenario test: test process could not take the next scenario's config \(reload-failed\)/);
    await p.proc.exited;
    expect(running(p.proc)).to.equal(false);
    expect(await pool.take('kind-a', [write('ok.json', 'reloaded')], reloadOptions), 'the failed one is not idle any more').to.equal(undefined);
  });

  it('a process that exited while idle is dropped, not handed out', async () => {
    const p = await start(write('a.json', 'first'));
    await p.firstLine;
    await pool.give(p);
    process.kill(p.proc.pid!, 'SIGKILL');
    await p.proc.exited;
    expect(await pool.take('kind-a', [write('b.json', 'reloaded')], reloadOptions)).to.equal(undefined);
  });

  it('releaseIdle stops the idle processes only; a leased one comes back and is kept', async () => {
    const idle = await start(write('a.json', 'one'));
    const leased = await start(write('b.json', 'two'));
    await Promise.all([idle.firstLine, leased.firstLine]);
    await pool.give(idle);
    await pool.releaseIdle();
    await idle.proc.exited;
    expect(running(leased.proc)).to.equal(true);
    await pool.give(leased);
    expect((await pool.take('kind-a', [write('c.json', 'reloaded')], reloadOptions))?.proc.pid).to.equal(leased.proc.pid);
  });

  it('close stops every process, idle or leased, removes its folder, and refuses new ones', async () => {
    const idle = await start(write('a.json', 'one'));
    const leased = await start(write('b.json', 'two'));
    await Promise.all([idle.firstLine, leased.firstLine]);
    await pool.give(idle);
    const folder = join(idle.links[0]!, '..');
    expect(existsSync(folder)).to.equal(true);
    await pool.close();
    await Promise.all([idle.proc.exited, leased.proc.exited]);
    expect(existsSync(folder), 'pool folder left').to.equal(false);
    let error: Error | undefined;
    await start(write('c.json', 'three')).catch((err: Error) => (error = err));
    expect(error?.message).to.match(/being cleaned up/);
    // A process given back after close is stopped, not kept.
    await pool.give(leased);
    expect(running(leased.proc)).to.equal(false);
  });
});
