// The run's claim in reports: report.json schema, compare with a changed claim (a new baseline, not a regression),
// reports written before claims existed, JUnit property, conformance.yaml, console summary.
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { CellResult, RunResult } from '../../src/model/index.js';
import {
  buildConformanceReport,
  compareRuns,
  readRunResultFile,
  renderComparisonText,
  renderConformanceYaml,
  renderConsoleReport,
  renderJunit,
  validateConformanceReport as checkConformanceReport,
  validateRunResult,
} from '../../src/report/index.js';
import { hostileBaseline, hostileRun } from './html-fixtures.js';
import { sampleRun } from './sample-run.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

/** `run` with its first passing cell turned into a conformant pass that differs from Istio. */
function withDifferingPass(run: RunResult): RunResult {
  let done = false;
  const scenarios = run.scenarios.map((s) => ({
    ...s,
    cells: s.cells.map((c): CellResult => {
      if (done || c.verdict !== 'pass' || c.expected.outcome !== 'deny') return c;
      done = true;
      return { ...c, expected: { ...c.expected, required: ['deny', 'allow'], requiredRule: 'R5.9 relayed at L4' }, differsFromIstio: true, observedOutcome: 'allow' };
    }),
  }));
  return { ...run, scenarios, summary: { ...run.summary, differsFromIstio: 1 } };
}

describe('reports: the claim', function () {
  it('report.json with a claim, required sets and differs-from-Istio flags matches the schema; a wrong claim does not', function () {
    const run = withDifferingPass({ ...sampleRun(), claim: 'spec' });
    const ok = validateRunResult(JSON.parse(JSON.stringify(run)));
    expect(ok.valid, JSON.stringify(!ok.valid && ok.errors)).to.equal(true);
    const bad = validateRunResult({ ...JSON.parse(JSON.stringify(run)), claim: 'envoy' });
    expect(bad.valid).to.equal(false);
  });

  it('compare: a changed claim is a new baseline, with no regressions, and says so', function () {
    const before = { ...hostileBaseline(), claim: 'istio' as const };
    const after = { ...hostileRun(), claim: 'spec' as const };
    expect(compareRuns({ ...before, claim: 'spec' }, after).regressions.length, 'the fixture has regressions under one claim').to.be.greaterThan(0);
    const c = compareRuns(before, after);
    expect(c.regressions).to.deep.equal([]);
    expect(c.fixes).to.deep.equal([]);
    expect(c.newBaseline).to.match(/claim changed from --claim istio to --claim spec/);
    const text = renderComparisonText(c);
    expect(text).to.match(/New baseline: .*no regressions reported/);
    expect(text).to.contain('--claim istio').and.contain('--claim spec');
  });

  it('compare CLI: exit 0 on a changed claim; a report without a claim reads as istio (what it was judged under)', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'mc-claim-'));
    try {
      const { claim: _drop, ...old } = { ...hostileBaseline(), claim: 'istio' as const };
      const oldFile = join(dir, 'old.json');
      const newFile = join(dir, 'new.json');
      writeFileSync(oldFile, JSON.stringify(old));
      writeFileSync(newFile, JSON.stringify({ ...hostileRun(), claim: 'spec' }));
      expect((await readRunResultFile(oldFile)).claim).to.equal('istio');
      const r = await execa(process.execPath, [bin, 'compare', oldFile, newFile], { reject: false, env: { NO_COLOR: '1' } });
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/New baseline: the claim changed from --claim istio to --claim spec/);
      writeFileSync(newFile, JSON.stringify({ ...hostileRun(), claim: 'istio' }));
      const same = await execa(process.execPath, [bin, 'compare', oldFile, newFile], { reject: false, env: { NO_COLOR: '1' } });
      expect(same.exitCode, 'same claim: regressions count').to.equal(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("JUnit names the claim in every suite's properties and notes a pass that differs from Istio", function () {
    const xml = renderJunit(withDifferingPass({ ...sampleRun(), claim: 'spec' }));
    const suites = xml.match(/<testsuite /g)!.length;
    expect(xml.match(/<property name="claim" value="spec"\/>/g)).to.have.length(suites);
    expect(xml).to.contain('differs from Istio');
  });

  it('conformance.yaml carries the claim (schema-valid) and its reproduce command names it', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'mc-claim-conf-'));
    try {
      // suiteDigest reads each scenario's file: point the fixtures at a real one.
      const file = join(dir, 's.yaml');
      writeFileSync(file, 'x: 1\n');
      const run = { ...sampleRun(), claim: 'istio' as const };
      const report = await buildConformanceReport({ ...run, scenarios: run.scenarios.map((s) => ({ ...s, file })) });
      const doc = parseYaml(renderConformanceYaml(report)) as Record<string, unknown>;
      expect(doc['claim']).to.equal('istio');
      expect(checkConformanceReport(doc)).to.deep.equal([]);
      expect(report.reproduce.command).to.contain('--claim istio');
      const { claim: _gone, ...noClaim } = doc;
      expect(checkConformanceReport(noClaim)).to.not.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the console summary names the claim and counts differing passes apart', function () {
    const text = renderConsoleReport(withDifferingPass({ ...sampleRun(), claim: 'spec' }), '/out', { fancy: false, tables: 'all' });
    expect(text).to.match(/\(1 conformant but not what Istio answers\); judged under --claim spec/);
    expect(text).to.match(/\+ allow\^/);
  });
});
