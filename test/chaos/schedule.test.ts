import { expect } from 'chai';
import fc from 'fast-check';
import '../support/fuzz-seed.js';
import { buildSchedule, effectiveSeed } from '../../src/chaos/index.js';
import { loadScenarioFile } from '../../src/scenario/index.js';
import { occupancy } from '../../src/scenario/load-chaos.js';
import type { Scenario } from '../../src/model/index.js';
import { FAULT_KINDS } from '../../src/model/index.js';
import { PERMISSIVE_FOO, tempDir, writeScenario } from './helpers.js';

describe('chaos schedule', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  const randomScenario = async (name: string, count: number, faults: readonly string[], seedLine = ''): Promise<Scenario> =>
    loadScenarioFile(
      writeScenario(tmp.path, name, {
        workloads: [
          '    - { name: finance, namespace: foo, labels: { app: finance }, ports: [8080, { port: 9090, protocol: http }] }',
          '    - { name: web, namespace: foo, labels: { app: web }, ports: [80] }',
        ].join('\n'),
        chaos: ['    duration: 20s', seedLine, '    policySets:', '      permissive:', `  ${PERMISSIVE_FOO}`, `    random: { count: ${count}, faults: [${faults.join(', ')}] }`]
          .filter(Boolean)
          .join('\n'),
      }),
    );

  it('the same seed gives the same schedule, another seed another one', async () => {
    const s = await randomScenario('same-seed', 6, FAULT_KINDS);
    const a = buildSchedule(s.chaos!, s.workloads, 42);
    const b = buildSchedule(s.chaos!, s.workloads, 42);
    const c = buildSchedule(s.chaos!, s.workloads, 43);
    expect(a).to.have.length(6);
    expect(b).to.deep.equal(a);
    expect(c).to.not.deep.equal(a);
  });

  it('fault i depends only on the seed and i: a shorter schedule is a prefix of the longer one (up to the slots)', async () => {
    const four = await randomScenario('prefix-4', 4, ['kill', 'policy-change', 'latency']);
    const eight = await randomScenario('prefix-8', 8, ['kill', 'policy-change', 'latency']);
    const kinds = (s: Scenario) => buildSchedule(s.chaos!, s.workloads, 7).map((f) => `${f.fault} ${f.workload ?? ''}`);
    expect(kinds(eight).slice(0, 4)).to.deep.equal(kinds(four));
  });

  it('the seed comes from --seed, else random.seed, else chaos.seed, else a fresh one', async () => {
    const s = await randomScenario('seeds', 2, ['kill'], '    seed: 5');
    expect(effectiveSeed(s.chaos!, 9)).to.equal(9);
    expect(effectiveSeed(s.chaos!, undefined)).to.equal(5);
    expect(effectiveSeed({ ...s.chaos!, random: { ...s.chaos!.random!, seed: 6 } }, undefined)).to.equal(6);
    expect(effectiveSeed({ ...s.chaos!, seed: undefined }, undefined, () => 77)).to.equal(77);
  });

  it('any seed: every generated fault fits in the run, faults on one workload never overlap, policy changes always change the set', async function () {
    this.timeout(120_000);
    const s = await randomScenario('property', 9, FAULT_KINDS);
    const spec = s.chaos!;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const schedule = buildSchedule(spec, s.workloads, seed);
        expect(schedule).to.have.length(9);
        let set = 'initial';
        for (const f of schedule) {
          const o = occupancy(f, spec.durationMs);
          expect(f.atMs).to.be.at.least(0);
          expect(f.atMs + (f.durationMs ?? 0)).to.be.at.most(spec.durationMs);
          expect(o.to).to.be.at.most(spec.durationMs);
          if (f.policySet !== undefined) {
            expect(f.policySet).to.not.equal(set);
            set = f.policySet;
          }
        }
        for (let i = 1; i < schedule.length; i++) expect(schedule[i]!.atMs).to.be.at.least(schedule[i - 1]!.atMs + (schedule[i - 1]!.durationMs ?? 0));
      }),
      { numRuns: 200 },
    );
  });
});
