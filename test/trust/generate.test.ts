// meshconform generate: deterministic, valid, varied random scenarios; a generated batch is a differential test of
// the reference data plane against the oracle.
import { expect } from 'chai';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateScenarios, loadScenarios, type GeneratedDocument } from '../../src/scenario/index.js';
import { MAX_SEED } from '../../src/util/seeded-random.js';
import { cli, inProcess } from './support/cli.js';
import { scratchDir } from './support/generated.js';

/** The CI batch: fixed seed, 20 scenarios, run on the reference data plane through the real CLI. */
const CI_SEED = 20260801;
const CI_COUNT = 20;

describe('trust: scenario generator', function () {
  this.timeout(120_000);
  const scratch = scratchDir('mc-trust-gen-');
  after(() => scratch.remove());

  it('is deterministic per seed, independent of the count, and different across seeds', function () {
    const a = generateScenarios(42, 10).map((g) => g.yaml);
    expect(generateScenarios(42, 10).map((g) => g.yaml)).to.deep.equal(a);
    expect(generateScenarios(42, 3).map((g) => g.yaml)).to.deep.equal(a.slice(0, 3));
    const b = generateScenarios(43, 10).map((g) => g.yaml);
    expect(b.filter((y, i) => y.replace(/43/g, '42') === a[i])).to.have.length.lessThan(2);
    expect(generateScenarios(MAX_SEED, 2)).to.have.length(2);
    expect(() => generateScenarios(-1, 1)).to.throw(RangeError);
  });

  it('never uses Math.random', function () {
    const original = Math.random;
    Math.random = () => {
      throw new Error('Math.random used by the generator');
    };
    try {
      generateScenarios(7, 50);
    } finally {
      Math.random = original;
    }
  });

  it('every generated file loads (admission rules included), 1 000 scenarios over 100 seeds', async function () {
    const dir = join(scratch.dir, 'many');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    for (let seed = 0; seed < 100; seed++) for (const g of generateScenarios(seed * 7919, 10)) writeFileSync(join(dir, g.fileName), g.yaml);
    const loaded = await loadScenarios([dir]);
    expect(loaded).to.have.length(1000);
  });

  it('covers every level and spelling the spec has, over a batch of 300', function () {
    const docs: GeneratedDocument[] = generateScenarios(99, 300).map((g) => g.document);
    const policies = docs.flatMap((d) => d.spec.policies.map((p) => ({ d, p })));
    const workloads = docs.flatMap((d) => d.spec.workloads.map((w) => ({ d, w })));
    const seen = {
      customRoot: docs.some((d) => d.spec.rootNamespace !== 'istio-system'),
      workloadInRoot: workloads.some(({ d, w }) => w.namespace === d.spec.rootNamespace),
      httpPort: workloads.some(({ w }) => w.ports.some((p) => typeof p === 'object' && p.protocol === 'http')),
      meshPolicy: policies.some(({ d, p }) => p.metadata.namespace === d.spec.rootNamespace && !p.spec.selector?.matchLabels),
      rootSelectorPolicy: policies.some(({ d, p }) => p.metadata.namespace === d.spec.rootNamespace && Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0),
      emptySelector: policies.some(({ p }) => p.spec.selector !== undefined && Object.keys(p.spec.selector.matchLabels ?? {}).length === 0),
      mtlsOmitted: policies.some(({ p }) => p.spec.mtls === undefined),
      mtlsEmpty: policies.some(({ p }) => p.spec.mtls !== undefined && p.spec.mtls.mode === undefined),
      mtlsUnset: policies.some(({ p }) => p.spec.mtls?.mode === 'UNSET'),
      portLevelUnset: policies.some(({ p }) => Object.values(p.spec.portLevelMtls ?? {}).some((m) => m.mode === undefined || m.mode === 'UNSET')),
      undeclaredPortKey: policies.some(({ d, p }) => {
        const declared = new Set(d.spec.workloads.flatMap((w) => w.ports.map((x) => (typeof x === 'number' ? x : x.port))));
        return Object.keys(p.spec.portLevelMtls ?? {}).some((k) => !declared.has(Number(k)));
      }),
      missingTimestamp: policies.some(({ p }) => p.metadata.creationTimestamp === undefined),
      tiedTimestamps: docs.some((d) => {
        const ts = d.spec.policies.map((p) => p.metadata.creationTimestamp).filter((t) => t !== undefined);
        return new Set(ts).size < ts.length;
      }),
      namespaceConflict: docs.some((d) => {
        const nsLevel = d.spec.policies.filter((p) => !p.spec.selector?.matchLabels || Object.keys(p.spec.selector.matchLabels).length === 0);
        return new Set(nsLevel.map((p) => p.metadata.namespace)).size < nsLevel.length;
      }),
      workloadConflict: docs.some((d) => {
        const wl = d.spec.policies.filter((p) => p.metadata.namespace !== d.spec.rootNamespace && Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0);
        return new Set(wl.map((p) => p.metadata.namespace)).size < wl.length;
      }),
    };
    expect(
      Object.entries(seen)
        .filter(([, v]) => !v)
        .map(([k]) => k),
      'never generated',
    ).to.deep.equal([]);
    // Distinct timestamps are whole seconds, so distinct ones are at least 1 s apart (R3.3).
    for (const { p } of policies) if (p.metadata.creationTimestamp) expect(p.metadata.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('meshconform generate writes the files (same bytes for the same seed); bad flags are usage errors', async function () {
    const dir = join(scratch.dir, 'cli');
    const first = await inProcess(['generate', '--seed', '5', '--count', '3', '--out', dir]);
    expect(first.code, first.err).to.equal(0);
    expect(first.out).to.contain(`wrote 3 scenario(s) to ${dir} (seed 5)`);
    const files = readdirSync(dir).sort();
    expect(files).to.deep.equal(['gen-5-000.yaml', 'gen-5-001.yaml', 'gen-5-002.yaml']);
    const bytes = files.map((f) => readFileSync(join(dir, f), 'utf8'));
    expect(bytes).to.deep.equal(generateScenarios(5, 3).map((g) => g.yaml));
    for (const argv of [
      ['generate', '--seed', '-1'],
      ['generate', '--seed', 'abc'],
      ['generate', '--seed', String(MAX_SEED + 1)],
      ['generate', '--count', '0'],
      ['generate', '--count', '1e3'],
      ['generate', '--seed', '1', '--out', join(dir, 'gen-5-000.yaml', 'below-a-file')],
    ]) {
      const r = await inProcess(argv);
      expect(r.code, argv.join(' ')).to.equal(2);
      expect(r.err, argv.join(' '))
        .to.match(/\S/)
        .and.not.to.match(/internal error|\n\s+at /);
    }
  });

  it(`a generated batch (seed ${CI_SEED}, ${CI_COUNT} scenarios) passes on the reference data plane through the real CLI`, async function () {
    const dir = join(scratch.dir, 'batch');
    const gen = await cli(['generate', '--seed', String(CI_SEED), '--count', String(CI_COUNT), '--out', dir]);
    expect(gen.exitCode, gen.stderr).to.equal(0);
    const run = await cli(['run', dir, '--reporter', 'console', '--out', '$OUT', '--local-subnet', '127.253', '--retries', '0']);
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(new RegExp(`${CI_COUNT} scenario run\\(s\\)`));
    expect(run.stdout).to.match(/\d+ cells: (\d+) passed, 0 failed, 0 flaky, 0 errors, 0 skipped/);
    expect(run.leftovers).to.deep.equal([]);
  });
});
