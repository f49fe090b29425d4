import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellResult, RunResult, ScenarioResult, Verdict } from '../../src/model/index.js';
import { compareRuns, readRunResultFile, renderComparisonText, ReportInputError } from '../../src/report/index.js';
import { hostileBaseline, hostileRun } from './html-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

/** `run` with the cells of every scenario changed by `f` (summaries are not used by the comparison). */
function mapCells(run: RunResult, f: (c: CellResult) => CellResult | undefined): RunResult {
  const scenarios = run.scenarios.map((s): ScenarioResult => ({ ...s, cells: s.cells.map(f).filter((c): c is CellResult => c !== undefined) }));
  return { ...run, scenarios };
}
const setVerdict = (c: CellResult, verdict: Verdict): CellResult => ({ ...c, verdict });

describe('compareRuns', () => {
  const before = hostileBaseline(); // everything passes, time to enforce 0.8 s
  const after = hostileRun(); // two cells fail open, time to enforce 1.2 s

  it('finds regressions and time-to-enforce changes', () => {
    const c = compareRuns(before, after);
    expect(c.regressions.map((x) => [x.scenario, x.client, x.before, x.after])).to.deep.equal([
      [after.scenarios[1]!.name, 'plaintext-tcp', 'pass', 'fail'],
      ['chaos-kill', 'plaintext-tcp', 'pass', 'fail'],
    ]);
    expect(c.fixes).to.deep.equal([]);
    expect(c.timeToEnforce).to.deep.equal([{ scenario: 'chaos-kill', meshMode: 'sidecar', beforeMs: 800, afterMs: 1200, deltaMs: 400 }]);
    expect(c.unchanged).to.equal(after.summary.cells - 2);
    expect(c.before.runId).to.equal(before.runId);
  });

  it('the same pair the other way round is all fixes', () => {
    const c = compareRuns(after, before);
    expect(c.fixes).to.have.length(2);
    expect(c.regressions).to.deep.equal([]);
    expect(c.timeToEnforce[0]?.deltaMs).to.equal(-400);
  });

  it('classifies error as a regression, flaky as still passing, and lists new and removed cells', () => {
    const keys = after.scenarios[0]!.cells.map((c) => c.key);
    const now = mapCells(before, (c) => {
      if (c.key === keys[0]) return setVerdict(c, 'error'); // pass → error: regression
      if (c.key === keys[1]) return setVerdict(c, 'flaky'); // pass → flaky: another change, not a regression
      if (c.key === keys[2]) return undefined; // removed
      if (c.key === keys[3]) return setVerdict(c, 'skipped'); // pass → skipped: another change
      return c;
    });
    const added: CellResult = { ...before.scenarios[0]!.cells[0]!, key: 'finance-strict|sidecar|foo/new|1|mtls-tcp', workload: 'foo/new', port: 1, verdict: 'fail' };
    const withNew: RunResult = { ...now, scenarios: [{ ...now.scenarios[0]!, cells: [...now.scenarios[0]!.cells, added] }, ...now.scenarios.slice(1)] };
    const c = compareRuns(before, withNew);
    expect(c.regressions.map((x) => [x.key, x.after])).to.deep.equal([[keys[0], 'error']]);
    expect(c.otherChanges.map((x) => [x.key, x.before, x.after])).to.deep.equal([
      [keys[1], 'pass', 'flaky'],
      [keys[3], 'pass', 'skipped'],
    ]);
    expect(c.removed.map((x) => x.key)).to.deep.equal([keys[2]]);
    expect(c.added.map((x) => [x.key, x.verdict])).to.deep.equal([[added.key, 'fail']]);
  });

  it('prints regressions first and a closing count', () => {
    const text = renderComparisonText(compareRuns(before, after));
    expect(text).to.match(/^before: 20261126T020000Z-beef00/);
    expect(text).to.contain('Regressions: passed before, fail now (2)\n');
    expect(text).to.contain('chaos-kill [sidecar] foo/finance:8080 plaintext-tcp: pass → fail: expected deny');
    expect(text).to.contain('Time to enforce changed (1)\n  chaos-kill [sidecar]: 0.80 s → 1.20 s (+0.40 s)');
    expect(text.trimEnd().split('\n').pop()).to.equal(`2 regressions, 0 fixes, 0 other changes, 0 new, 0 removed, ${after.summary.cells - 2} unchanged`);
    expect(text).to.not.contain('\x1b');
  });
});

describe('readRunResultFile and meshconform compare (real CLI)', () => {
  let dir: string;
  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const compare = (...args: string[]) => execa(process.execPath, [bin, 'compare', ...args], { cwd: root, reject: false, env: { NO_COLOR: '1' } });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mc-compare-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 on a regression, 0 without, and prints JSON with --json', async () => {
    const old = file('old.json', JSON.stringify(hostileBaseline()));
    const now = file('new.json', JSON.stringify(hostileRun()));
    const r = await compare(old, now);
    expect(r.exitCode).to.equal(1);
    expect(r.stdout).to.contain('Regressions: passed before, fail now (2)');
    const fixed = await compare(now, old);
    expect(fixed.exitCode, fixed.stderr).to.equal(0);
    expect(fixed.stdout).to.contain('Fixes: failed before, pass now (2)');
    const json = await compare(old, now, '--json');
    expect(json.exitCode).to.equal(1);
    expect(JSON.parse(json.stdout)).to.deep.equal(JSON.parse(JSON.stringify(compareRuns(hostileBaseline(), hostileRun()))));
  });

  it('exits 2 naming the file and the problem for unusable input', async () => {
    const good = file('good.json', JSON.stringify(hostileRun()));
    const full = JSON.stringify(hostileRun());
    const cases: [string, string, RegExp][] = [
      ['truncated.json', full.slice(0, full.length / 2), /truncated\.json: not valid JSON \(truncated or not a report\.json\?\)/],
      ['empty.json', '', /empty\.json: the file is empty/],
      [
        'other-version.json',
        JSON.stringify({ ...hostileRun(), apiVersion: 'meshconform.dev/v2' }),
        /other-version\.json: written by another version of meshconform: apiVersion "meshconform\.dev\/v2", this version reads "meshconform\.dev\/v1alpha1"/,
      ],
      ['junit.json', JSON.stringify({ testsuites: [] }), /junit\.json: not a meshconform report\.json: expected kind "RunResult", found none/],
      ['off-schema.json', JSON.stringify({ ...hostileRun(), summary: { cells: -1 } }), /off-schema\.json: does not match the report\.json schema: \/summary/],
    ];
    for (const [name, content, message] of cases) {
      const bad = file(name, content);
      const r = await compare(good, bad);
      expect(r.exitCode, name).to.equal(2);
      expect(r.stderr, name).to.match(message);
      expect(r.stderr, name).to.match(/^meshconform: /);
      expect(r.stdout, name).to.equal('');
      const err = await readRunResultFile(bad).catch((e: unknown) => e);
      expect(err, name).to.be.instanceOf(ReportInputError);
      expect((err as ReportInputError).file).to.equal(bad);
    }
    const missing = await compare(join(dir, 'nope.json'), good);
    expect(missing.exitCode).to.equal(2);
    expect(missing.stderr).to.contain('nope.json: no such file');
  });
});
