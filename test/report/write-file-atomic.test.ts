import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
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

  it('writes pieces as they come: the file is their concatenation, however large, split surrogate pairs included', async () => {
    const p = join(dir, 'report.json');
    const pieces = ['{"a":"😀', ...Array.from({ length: 3000 }, (_, i) => `${'é'.repeat(700)}${i}`), '\ud83d', '\ude00"}'];
    // A pair split at a write boundary, too: the batch ends in half a pair whatever the pieces before it.
    const boundary = ['x'.repeat((1 << 20) - 1) + '\ud83d', '\ude00', 'end'];
    await writeFileAtomic(p, pieces);
    expect(await readFile(p, 'utf8')).to.equal(pieces.join(''));
    await writeFileAtomic(p, boundary);
    expect(await readFile(p, 'utf8')).to.equal(boundary.join(''));
    expect(await readdir(dir)).to.deep.equal(['report.json']);
  });

  it('pieces that fail half way leave the old file intact and no temp file', async () => {
    const p = join(dir, 'report.json');
    await writeFile(p, 'old');
    function* failing(): Generator<string> {
      for (let i = 0; i < 2000; i++) yield 'x'.repeat(1024);
      throw new Error('serialising failed');
    }
    let error: unknown;
    try {
      await writeFileAtomic(p, failing());
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.equal('serialising failed');
    expect(await readdir(dir)).to.deep.equal(['report.json']);
    expect(await readFile(p, 'utf8')).to.equal('old');
  });

  it('a streamed file appears only when complete: while pieces are still coming there is only a hidden temp file', async () => {
    const p = join(dir, 'index.html');
    const seen: string[][] = [];
    function* pieces(): Generator<string> {
      for (let i = 0; i < 3; i++) {
        yield 'y'.repeat(1 << 20);
        // Asked for the next piece once the batch before it is on disk.
        seen.push(readdirSync(dir));
      }
    }
    await writeFileAtomic(p, pieces());
    expect(seen).to.have.length(3);
    for (const files of seen) {
      expect(files).to.have.length(1);
      expect(files[0]).to.match(/^\.index\.html\.\d+\.[0-9a-f]{8}\.tmp$/);
    }
    expect(await readdir(dir)).to.deep.equal(['index.html']);
    expect((await readFile(p, 'utf8')).length).to.equal(3 << 20);
  });

  it('a SIGTERM while pieces are still coming leaves no report, only the hidden temp file', async () => {
    const p = join(dir, 'report.json');
    // Writes one batch, says so, then keeps the write going (slowly) until the signal ends the process.
    const child = execa(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { writeSync } from 'node:fs';
         import { writeFileAtomic } from ${JSON.stringify(new URL('../../src/report/write-file-atomic.ts', import.meta.url).pathname)};
         const nap = new Int32Array(new SharedArrayBuffer(4));
         function* pieces() {
           yield 'z'.repeat(1 << 20);
           writeSync(1, 'writing\\n');
           for (;;) { Atomics.wait(nap, 0, 0, 20); yield 'z'.repeat(1024); }
         }
         await writeFileAtomic(${JSON.stringify(p)}, pieces());`,
      ],
      { reject: false },
    );
    await new Promise<void>((resolve) => child.stdout!.on('data', (b: Buffer) => String(b).includes('writing') && resolve()));
    child.kill('SIGTERM');
    const r = await child;
    expect(r.signal).to.equal('SIGTERM');
    const files = await readdir(dir);
    expect(files).to.not.include('report.json');
    expect(files).to.have.length(1);
    expect(files.every((f) => /^\.report\.json\.\d+\.[0-9a-f]{8}\.tmp$/.test(f))).to.equal(true);
  });
});
