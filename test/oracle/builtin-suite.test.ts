// The built-in suite (scenarios/), loaded with the real loader: structure rules, and every author expectation
// agrees with the oracle.
import { readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { effectiveModes, lintExpectations, workloadKey } from '../../src/oracle/index.js';
import { loadScenarios } from '../../src/scenario/index.js';
import type { Scenario } from '../../src/model/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SUITE = join(ROOT, 'scenarios');
const FEATURES = ['core', 'port-level', 'precedence', 'selectors', 'protocols'];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const files = FEATURES.flatMap((f) => yamlFiles(join(SUITE, f))).sort();

describe('built-in suite: scenarios/', () => {
  const byName = new Map<string, Scenario>();
  before(async () => {
    for (const s of await loadScenarios(FEATURES.map((f) => join(SUITE, f)))) byName.set(s.name, s);
  });

  it('loads every file of the suite with the scenario loader', () => {
    expect(byName.size).to.equal(files.length);
  });

  it('has at least 28 scenarios spread over the feature folders', () => {
    expect(files.length).to.be.at.least(28);
    for (const f of FEATURES) expect(files.some((x) => x.includes(`/scenarios/${f}/`)), f).to.equal(true);
  });

  for (const file of files) {
    const rel = relative(ROOT, file);
    const folder = basename(dirname(file));
    const stem = basename(file).replace(/\.ya?ml$/, '');
    describe(rel, () => {
      let scenario: Scenario;
      before(() => {
        const s = byName.get(stem);
        if (s === undefined) throw new Error(`${rel}: no scenario named after the file stem ${stem}`);
        scenario = s;
      });

      it('is a sidecar scenario named after its file, labelled with its folder', () => {
        expect(relative(ROOT, scenario.file)).to.equal(rel);
        expect(scenario.labels['feature']).to.equal(folder);
        expect(scenario.feature).to.equal(folder);
        expect(scenario.mode).to.equal('sidecar');
        expect(scenario.description.length).to.be.greaterThan(20);
      });

      it('stays small and avoids ports reserved by Istio', () => {
        expect(scenario.workloads.length).to.be.within(1, 4);
        for (const w of scenario.workloads) {
          expect(w.ports.length).to.be.within(1, 3);
          for (const { port } of w.ports) {
            expect(port).to.be.within(1024, 65535);
            expect(port < 15000 || port > 15090, `port ${port}`).to.equal(true);
          }
        }
      });

      it('writes only policies the Istio webhook admits (R1.3)', () => {
        for (const p of scenario.policies) {
          if (p.portLevelMtls.size > 0) expect(p.selector && Object.keys(p.selector).length > 0, `${p.name}: portLevelMtls needs a selector`).to.equal(true);
          if (p.manifest.spec?.portLevelMtls !== undefined) expect(p.portLevelMtls.size, `${p.name}: empty portLevelMtls`).to.be.greaterThan(0);
          for (const port of p.portLevelMtls.keys()) expect(Number.isInteger(port) && port >= 1 && port <= 65535).to.equal(true);
        }
      });

      it('states an expectation for every workload', () => {
        for (const w of scenario.workloads) expect(scenario.expect.map((e) => e.workload)).to.include(workloadKey(w));
      });

      it('has author expectations that agree with the oracle (no lint findings)', () => {
        const findings = lintExpectations(scenario, 'sidecar');
        expect(findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message}`)).to.deep.equal([]);
        expect(effectiveModes(scenario, 'sidecar').length).to.be.greaterThan(0);
      });
    });
  }
});
