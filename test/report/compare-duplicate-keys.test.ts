import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';
import { hostileRun } from './html-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

describe('meshconform compare: a report with the same cell key twice is invalid input', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mc-compare-dup-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming the file and the key, instead of letting a pass hide a fail', async () => {
    const base = hostileRun();
    const s0 = base.scenarios[0]!;
    const cell = s0.cells[0]!;
    const good: RunResult = { ...base, scenarios: [{ ...s0, cells: [{ ...cell, verdict: 'pass' }, ...s0.cells.slice(1)] }, ...base.scenarios.slice(1)] };
    // One copy fails, the other passes: a reader that keeps the last one sees no regression.
    const twice: RunResult = {
      ...base,
      scenarios: [{ ...s0, cells: [{ ...cell, verdict: 'fail' }, { ...cell, verdict: 'pass' }, ...s0.cells.slice(1)] }, ...base.scenarios.slice(1)],
    };
    const old = join(dir, 'old.json');
    const now = join(dir, 'twice.json');
    writeFileSync(old, JSON.stringify(good));
    writeFileSync(now, JSON.stringify(twice));
    for (const args of [
      [old, now],
      [now, old],
    ]) {
      const r = await execa(process.execPath, [bin, 'compare', ...args], { cwd: root, reject: false, env: { NO_COLOR: '1' } });
      expect(r.exitCode, r.stdout + r.stderr).to.equal(2);
      expect(r.stderr).to.contain('twice.json').and.contain(JSON.stringify(cell.key)).and.contain('more than once');
      expect(r.stdout).to.equal('');
    }
  });
});
