// The one run pipeline with backends as strategies: typed skips, settle policies, oracle bugs, scenario overlap.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { Backend, Environment, Observation, Scenario } from '../../src/model/index.js';
import { loadScenarios } from '../../src/scenario/index.js';
import { runSuite, settlePolicyFor, type RunOptions } from '../../src/run/pipeline.js';
import { HarnessBugError, UsageError } from '../../src/util/errors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scenarioFile = (p: string) => `${root}scenarios/${p}`;

const errorObservation = (): Observation => ({ status: 'error', message: 'stub prober', timings: { startedAt: Date.now(), totalMs: 0 }, attempts: 1 });

/** A backend strategy that records what the pipeline asked of it; its prober answers every job with an error. */
function stubBackend(settle: Backend['settle'], extra: Partial<Backend> = {}) {
  const calls = { opened: 0, deployed: [] as string[], closed: 0, inFlight: 0, maxInFlight: 0, applied: 0 };
  const backend: Backend = {
    name: `stub-${settle}`,
    settle,
    parallelScenarios: settle === 'retries',
    async open() {
      calls.opened++;
      return {
        details: () => ({ stub: 'yes' }),
        prober: { probe: async (jobs) => new Map(jobs.map((j) => [j.key, errorObservation()])) },
        async deploy(o): Promise<Environment> {
          calls.deployed.push(o.scenario.name);
          calls.maxInFlight = Math.max(calls.maxInFlight, ++calls.inFlight);
          await new Promise((r) => setTimeout(r, 20));
          const targets = new Map(o.scenario.workloads.map((w) => [`${w.namespace}/${w.name}`, { address: '127.0.0.1', ports: new Map(w.ports.map((p) => [p.port, p.port])) }]));
          return {
            targets,
            applyPolicies: async () => void calls.applied++,
            health: () => [],
            stop: async () => void calls.inFlight--,
          };
        },
        close: async () => void calls.closed++,
      };
    },
    ...extra,
  };
  return { backend, calls };
}

function options(scenarios: readonly Scenario[], backend: Backend, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    scenarios,
    paths: ['test'],
    backend,
    dataPlane: { name: 'stub', argv: [], workloadsPerProcess: 1, meshModes: ['sidecar', 'ambient'] },
    echoArgv: [],
    concurrency: 4,
    timeoutMs: 500,
    readyTimeoutMs: 1000,
    parallelScenarios: 4,
    ...extra,
  };
}

describe('the one run pipeline', function () {
  this.timeout(60_000);
  let core: Scenario[];
  before(async () => {
    core = await loadScenarios([scenarioFile('core')]);
  });

  it('settle policy follows the backend family; an option for the other one is refused, never ignored', () => {
    const retries = stubBackend('retries').backend;
    const converging = stubBackend('convergence').backend;
    expect(settlePolicyFor(retries, { retries: 2 })).to.include({ kind: 'retries', retries: 2 });
    expect(settlePolicyFor(converging, { convergence: { successes: 3, deadlineMs: 1000, intervalMs: 10 } }).kind).to.equal('convergence');
    expect(() => settlePolicyFor(converging, { retries: 1, convergence: { successes: 3, deadlineMs: 1000, intervalMs: 10 } })).to.throw(UsageError, /--retries/);
    expect(() => settlePolicyFor(retries, { convergence: { successes: 3, deadlineMs: 1000, intervalMs: 10 } })).to.throw(UsageError, /settles cells by retries/);
    expect(() => settlePolicyFor(converging, {})).to.throw(UsageError, /convergence options are required/);
  });

  it('an oracle exception is a bug naming the scenario (exit 2), never a skipped scenario; nothing is opened', async () => {
    const { backend, calls } = stubBackend('retries');
    const s = core[0]!;
    const broken: Scenario = { ...s, workloads: s.workloads.map((w) => ({ ...w, ports: w.ports.map((p) => ({ ...p, protocol: 'sctp' as never })) })) };
    let err: unknown;
    try {
      await runSuite(options([broken], backend));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(HarnessBugError);
    expect((err as Error).message).to.match(new RegExp(`the oracle failed on scenario ${s.name} .* in sidecar mode: unhandled port protocol: sctp.*a bug in meshconform`));
    expect(calls.opened).to.equal(0);
  });

  it("a backend's typed skip is reported with its reason; when every unit is skipped nothing is opened", async () => {
    const { backend, calls } = stubBackend('retries', { unsupported: (s, m) => `stub cannot run ${m}` });
    const r = await runSuite(options(core.slice(0, 3), backend));
    expect(calls.opened).to.equal(0);
    expect(r.scenarios.map((s) => s.skipped)).to.deep.equal(['stub cannot run sidecar', 'stub cannot run sidecar', 'stub cannot run sidecar']);
    expect(r.summary.cells).to.equal(0);
  });

  it('retries: scenarios overlap, the policies are in place at deploy (no apply), options record retries and the settle policy', async () => {
    const { backend, calls } = stubBackend('retries');
    const r = await runSuite(options(core, backend, { retries: 0 }));
    expect(calls.opened).to.equal(1);
    expect(calls.closed).to.equal(1);
    expect(calls.deployed.length).to.equal(core.length);
    expect(calls.maxInFlight).to.be.greaterThan(1);
    expect(calls.applied).to.equal(0);
    expect(r.options).to.deep.include({ retries: 0, settle: 'retries: 0 more attempts for a cell that did not match' });
    expect(r.environment.details).to.deep.equal({ stub: 'yes' });
    // Every probe erred: every cell is an error, never a pass.
    expect(r.summary.errors).to.equal(r.summary.cells);
  });

  it('convergence: one scenario at a time, policies applied after the baseline, no retries in the report', async () => {
    const { backend, calls } = stubBackend('convergence');
    const scenarios = core.slice(0, 3);
    const r = await runSuite(options(scenarios, backend, { convergence: { successes: 2, deadlineMs: 300, intervalMs: 10 } }));
    expect(calls.maxInFlight).to.equal(1);
    expect(calls.applied).to.equal(scenarios.length);
    expect(r.options).to.not.have.property('retries');
    expect(r.options.settle).to.equal('convergence: 2 in a row within 300 ms, rounds 10 ms apart');
    expect(r.summary.passed).to.equal(0);
  });

  it('a chaos scenario on a backend without chaos controls is skipped with that reason; static ones still run', async () => {
    const chaos = await loadScenarios([scenarioFile('chaos/kill-and-restart.yaml')]);
    const { backend, calls } = stubBackend('retries');
    const r = await runSuite(options([...chaos, core[0]!], backend, { retries: 0 }));
    expect(r.scenarios.find((s) => s.name === chaos[0]!.name)!.skipped).to.equal('the stub-retries backend has no chaos controls');
    expect(calls.deployed).to.deep.equal([core[0]!.name]);
    // Only chaos scenarios the backend cannot run: nothing is opened for them (no cluster is created to skip them).
    const only = stubBackend('retries');
    const skippedAll = await runSuite(options(chaos, only.backend, { retries: 0 }));
    expect(only.calls.opened).to.equal(0);
    expect(skippedAll.scenarios.map((s) => s.skipped)).to.deep.equal(['the stub-retries backend has no chaos controls']);
  });

  it('--only-cell: a chosen cell whose port times out is judged with liveness probes of its port, which are never reported', async () => {
    const s = core.find((x) => x.name === 'ref-namespace-foo-strict')!;
    const { backend } = stubBackend('retries');
    const probed: string[][] = [];
    const chosenKey = `${s.name}|sidecar|foo/finance|8080|plaintext-tcp`;
    const withProber: Backend = {
      ...backend,
      open: async (o) => ({
        ...(await backend.open(o)),
        prober: {
          probe: async (jobs) => {
            probed.push(jobs.map((j) => j.key));
            return new Map(
              jobs.map((j): [string, Observation] => [
                j.key,
                j.key === chosenKey
                  ? { status: 'denied', how: 'timeout', detail: 'no answer within 500 ms', timings: { startedAt: Date.now(), totalMs: 500 }, attempts: 1 }
                  : { status: 'denied', how: 'reset', detail: 'ECONNRESET', timings: { startedAt: Date.now(), totalMs: 1 }, attempts: 1 },
              ]),
            );
          },
        },
      }),
    };
    const r = await runSuite(options([s], withProber, { retries: 0, onlyCells: new Set([chosenKey]) }));
    expect(r.scenarios[0]!.cells.map((c) => c.key)).to.deep.equal([chosenKey]);
    const cell = r.scenarios[0]!.cells[0]!;
    expect(cell.verdict, cell.reason).to.equal('pass');
    // One round: the chosen cell and two cells of its port for liveness.
    expect(probed.length).to.equal(1);
    expect(probed[0]![0]).to.equal(chosenKey);
    expect(probed[0]!.length).to.equal(3);
    expect(probed[0]!.every((k) => k.includes('|foo/finance|8080|'))).to.equal(true);
  });
});
