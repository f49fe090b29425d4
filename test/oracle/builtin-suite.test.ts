// The built-in suite (scenarios/), loaded with the real loader: structure rules, and every author expectation
// agrees with the oracle.
import { readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { effectiveModes, expectations, lintExpectations, workloadKey } from '../../src/oracle/index.js';
import { loadScenarios } from '../../src/scenario/index.js';
import type { Scenario } from '../../src/model/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SUITE = join(ROOT, 'scenarios');
const FEATURES = ['core', 'port-level', 'precedence', 'selectors', 'protocols'];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
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
    for (const f of FEATURES)
      expect(
        files.some((x) => x.includes(`/scenarios/${f}/`)),
        f,
      ).to.equal(true);
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

const AMBIENT = join(SUITE, 'ambient');
const ambientFiles = yamlFiles(AMBIENT).sort();

describe('built-in suite: scenarios/ambient/', () => {
  const byName = new Map<string, Scenario>();
  before(async () => {
    for (const s of await loadScenarios([AMBIENT])) byName.set(s.name, s);
  });
  const all = () => [...byName.values()];

  it('loads every file, at least 12 scenarios, at least 2 of them mode: both, the rest ambient', () => {
    expect(byName.size).to.equal(ambientFiles.length);
    expect(ambientFiles.length).to.be.at.least(12);
    expect(all().filter((s) => s.mode === 'both').length).to.be.at.least(2);
    for (const s of all()) expect(s.mode, s.name).to.be.oneOf(['ambient', 'both']);
  });

  it('covers DISABLE at mesh, namespace, workload and port level, each with a loader warning', () => {
    const levels = new Set<string>();
    for (const s of all()) {
      for (const p of s.policies) {
        const isDisable = p.mode === 'DISABLE';
        if (isDisable) levels.add(p.namespace === s.rootNamespace ? 'mesh' : p.selector && Object.keys(p.selector).length > 0 ? 'workload' : 'namespace');
        if ([...p.portLevelMtls.values()].includes('DISABLE')) levels.add('port');
        if (isDisable)
          expect(
            s.warnings.some((w) => w.message.includes(`${p.namespace}/${p.name}: mtls.mode DISABLE`)),
            `${s.name}: ${p.name}`,
          ).to.equal(true);
      }
    }
    expect([...levels].sort()).to.deep.equal(['mesh', 'namespace', 'port', 'workload']);
  });

  it('carries the R6.10 case, expecting the specified STRICT, with the suspected divergence in its description', () => {
    const s = byName.get('ambient-precedence-gap-r6-10');
    expect(s?.description).to.include('R6.10').and.include('suspected');
    const port = effectiveModes(s!, 'ambient').find((m) => m.port === 9090);
    expect(port?.mode).to.equal('STRICT');
    expect(port?.notes?.join(' ')).to.include('R6.10');
  });

  it('has a mode: both scenario whose two modes expect different outcomes', () => {
    const differing = all()
      .filter((s) => s.mode === 'both')
      .filter((s) => {
        const amb = new Map(expectations(s, 'ambient').map((e) => [`${e.workload}|${e.port}|${e.client}`, e.outcome]));
        return expectations(s, 'sidecar').some((e) => amb.get(`${e.workload}|${e.port}|${e.client}`) !== e.outcome);
      });
    expect(differing.length).to.be.at.least(2);
  });

  for (const file of ambientFiles) {
    const stem = basename(file).replace(/\.ya?ml$/, '');
    describe(relative(ROOT, file), () => {
      it('is labelled ambient, described, small, and avoids the ports Istio reserves (15008 is HBONE)', () => {
        const s = byName.get(stem)!;
        expect(s.feature).to.equal('ambient');
        expect(s.description.length).to.be.greaterThan(40);
        expect(s.workloads.length).to.be.within(1, 4);
        for (const w of s.workloads) for (const { port } of w.ports) expect(port < 15000 || port > 15090, `port ${port}`).to.equal(true);
        for (const w of s.workloads)
          expect(
            s.expect.map((e) => e.workload),
            w.name,
          ).to.include(workloadKey(w));
      });

      it('has author expectations that agree with the oracle in every mode it runs in', () => {
        const s = byName.get(stem)!;
        for (const m of s.mode === 'both' ? (['sidecar', 'ambient'] as const) : (['ambient'] as const)) {
          expect(
            lintExpectations(s, m).map((f) => `${f.file}:${f.line}:${f.column}: ${f.message}`),
            m,
          ).to.deep.equal([]);
        }
      });
    });
  }
});
