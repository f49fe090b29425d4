// Property tests (fast-check) of oracle invariants over generated policy sets, plus a differential check of the oracle
// against the reference data plane's own resolution, and that generated sets expose every policy-level defect.
import { expect } from 'chai';
import fc from 'fast-check';
import type { Scenario } from '../../src/model/index.js';
import { effectiveModes } from '../../src/oracle/index.js';
import type { GeneratedDocument, GeneratedPolicy } from '../../src/scenario/index.js';
import { MAX_SEED } from '../../src/util/seeded-random.js';
import { DEFECTS } from '../../harness/reference/defects.mjs';
import { documentFromSeed, loadDocument, oracleModes, referenceModes, scratchDir } from './support/generated.js';
import '../support/fuzz-seed.js';

/** Runs per property: bounded so the file stays within seconds; the seed is printed by fast-check on a failure. */
const RUNS = 120;
const seeds = fc.integer({ min: 0, max: MAX_SEED });

const isSelectorLess = (p: GeneratedPolicy): boolean => Object.keys(p.spec.selector?.matchLabels ?? {}).length === 0;
const clone = (d: GeneratedDocument): GeneratedDocument => structuredClone(d);
/** Modes of the workloads outside `namespace`. */
const outside = (modes: Map<string, string>, namespace: string) => new Map([...modes].filter(([k]) => !k.startsWith(`${namespace}/`)));
const LATE = '2031-01-01T00:00:00Z';

describe('trust: oracle properties over generated policy sets', function () {
  this.timeout(120_000);
  const scratch = scratchDir('mc-trust-prop-');
  after(() => scratch.remove());
  const load = (d: GeneratedDocument): Promise<Scenario> => loadDocument(scratch.dir, d);

  it('the oracle and the reference data plane resolve every workload port to the same mode', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const s = await load(documentFromSeed(seed));
        expect(Object.fromEntries(referenceModes(s))).to.deep.equal(Object.fromEntries(oracleModes(s)));
      }),
      { numRuns: RUNS },
    );
  });

  it("removing a workload policy never changes another namespace's modes", async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), async (seed, pick) => {
        const doc = documentFromSeed(seed);
        const candidates = doc.spec.policies.map((p, i) => ({ p, i })).filter(({ p }) => !isSelectorLess(p) && p.metadata.namespace !== doc.spec.rootNamespace);
        fc.pre(candidates.length > 0);
        const { p, i } = candidates[pick % candidates.length]!;
        const without = clone(doc);
        without.spec.policies.splice(i, 1);
        const before = oracleModes(await load(doc));
        const after = oracleModes(await load(without));
        expect(outside(after, p.metadata.namespace)).to.deep.equal(outside(before, p.metadata.namespace));
      }),
      { numRuns: RUNS },
    );
  });

  it("an UNSET port entry of the deciding workload policy equals its workload's mode", async function () {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const s = await load(documentFromSeed(seed));
        const modes = oracleModes(s);
        const explained = effectiveModes(s, 'sidecar');
        let checked = 0;
        for (const e of explained) {
          // The oracle's own explanation names the workload policy whose port map decided the port.
          const decider = e.decidedBy.find((d) => d.level === 'port');
          const policy = decider && s.policies.find((p) => p.name === decider.name && p.namespace === decider.namespace);
          if (e.port === null || policy?.portLevelMtls.get(e.port) !== 'UNSET') continue;
          checked++;
          expect(modes.get(`${e.workload}|${e.port}`), `${e.workload}:${e.port}`).to.equal(modes.get(`${e.workload}|*`));
        }
        fc.pre(checked > 0);
      }),
      { numRuns: RUNS },
    );
  });

  it("a port that no portLevelMtls names has its workload's mode", async function () {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const s = await load(documentFromSeed(seed));
        const named = new Set(s.policies.flatMap((p) => [...p.portLevelMtls.keys()]));
        const modes = oracleModes(s);
        for (const w of s.workloads) {
          for (const { port } of w.ports) {
            if (!named.has(port)) expect(modes.get(`${w.namespace}/${w.name}|${port}`)).to.equal(modes.get(`${w.namespace}/${w.name}|*`));
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('adding a newer duplicate namespace- or mesh-level policy never changes anything (oldest wins)', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), fc.constantFrom('STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'), async (seed, pick, mode) => {
        const doc = documentFromSeed(seed);
        const scopes = doc.spec.policies.filter(isSelectorLess);
        fc.pre(scopes.length > 0);
        const existing = scopes[pick % scopes.length]!;
        const newer = clone(doc);
        newer.spec.policies.push({
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'newer-duplicate', namespace: existing.metadata.namespace, creationTimestamp: LATE },
          spec: { mtls: { mode } },
        });
        expect(oracleModes(await load(newer))).to.deep.equal(oracleModes(await load(doc)));
      }),
      { numRuns: RUNS },
    );
  });

  it('a selector policy in the root namespace never changes anything', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), fc.constantFrom('STRICT', 'PERMISSIVE', 'DISABLE'), async (seed, pick, mode) => {
        const doc = documentFromSeed(seed);
        const target = doc.spec.workloads[pick % doc.spec.workloads.length]!;
        const port = target.ports[0]!;
        const withRoot = clone(doc);
        withRoot.spec.policies.push({
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'root-selector', namespace: doc.spec.rootNamespace, creationTimestamp: '2000-01-01T00:00:00Z' },
          spec: { selector: { matchLabels: { ...target.labels } }, mtls: { mode }, portLevelMtls: { [String(typeof port === 'number' ? port : port.port)]: { mode } } },
        });
        expect(oracleModes(await load(withRoot))).to.deep.equal(oracleModes(await load(doc)));
      }),
      { numRuns: RUNS },
    );
  });

  it('generated sets expose every static policy-level defect of the reference data plane (deterministic search)', async function () {
    const policyDefects = DEFECTS.filter((d) => d.layer === 'policy' && d.kind === 'static').map((d) => d.name);
    const found = new Map<string, number>();
    for (let seed = 0; seed < 400 && found.size < policyDefects.length; seed++) {
      const s = await load(documentFromSeed(seed));
      const oracle = JSON.stringify([...oracleModes(s)]);
      for (const d of policyDefects) if (!found.has(d) && JSON.stringify([...referenceModes(s, [d])]) !== oracle) found.set(d, seed);
    }
    expect(
      policyDefects.filter((d) => !found.has(d)),
      'policy defects no generated set exposes',
    ).to.deep.equal([]);
  });
});
