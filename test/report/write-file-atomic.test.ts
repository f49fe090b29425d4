import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeFileAtomic } from '../../src/report/index.js';

describe('report: writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshconform-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces an existing file and leaves no temp file behind', async () => {
    const p = join(dir, 'report.json');
    await writeFileAtomic(p, 'old');
    await writeFileAtomic(p, 'new');
    expect(await readdir(dir)).to.deep.equal(['report.json']);
    expect(await readFile(p, 'utf8')).to.equal('new');
  });

  it('leaves the old file intact and no temp file when the rename fails', async () => {
    const target = join(dir, 'junit.xml');
    await mkdir(target); // a directory in the way: the rename fails after the temp file was written
    await mkdir(join(target, 'keep'));
    let failed = false;
    try {
      await writeFileAtomic(target, '<testsuites/>');
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(await readdir(dir)).to.deep.equal(['junit.xml']);
    expect(await readdir(target)).to.deep.equal(['keep']);
  });
});
