import { randomBytes } from 'node:crypto';
import type {
  Backend,
  CellResult,
  Claim,
  DataPlaneSpec,
  Expectation,
  MeshMode,
  ModeDifferential,
  Observation,
  ProbeJob,
  RunResult,
  Scenario,
  ScenarioResult,
  WorkloadKey,
  WorkloadTls,
} from '../model/index.js';
import { RUN_RESULT_API_VERSION } from '../model/index.js';
import { expectations, lintExpectations } from '../oracle/index.js';
import { errorCell, judgeCell, modeDifferentials, provesViolation, skippedCell, summarize } from '../diff/index.js';
import { createMeshPki, KEYS_PER_PKI, prepareKeyPairs, type MeshPki } from '../pki/index.js';
import { applyReceipts, createProbeContext, hboneUnservedPort, listenerOf, runProbes, showsLife, timeoutsWithoutLife, type AttemptRef } from '../probe/index.js';
import { BackendError } from '../util/errors.js';
import { dataPlaneFor } from './data-plane-for-mode.js';
import { startEnvironment } from './start-environment.js';
import { pushTeardown, runTeardown } from './teardown.js';
import { prepareChaos, runChaosScenario } from './run-chaos.js';
import { HARNESS_VERSION } from './version.js';
import { interruptedBy, interruptedReason, type InterruptSignal } from './interrupt.js';

export interface RunHooks {
  onRunStart?(info: { runId: string; scenarios: number; cells: number }): void;
  onScenarioStart?(info: { scenario: string; meshMode: MeshMode; cells: number }): void;
  onCellResult?(cell: CellResult): void;
  onScenarioEnd?(result: ScenarioResult): void;
}

export interface RunOptions {
  readonly scenarios: readonly Scenario[];
  readonly paths: readonly string[];
  readonly grep?: string;
  readonly backend: Backend;
  readonly dataPlane: DataPlaneSpec;
  readonly echoArgv: readonly string[];
  /** Extra attempts for a cell that did not match; a later match makes it `flaky`. */
  readonly retries: number;
  /** Probes in flight at once. */
  readonly concurrency: number;
  /** Per-probe deadline. */
  readonly timeoutMs: number;
  /** Deadline for a data plane to accept TCP on every declared port. */
  readonly readyTimeoutMs: number;
  /** Scenarios whose environments run at the same time. */
  readonly parallelScenarios: number;
  readonly runId?: string;
  readonly hooks?: RunHooks;
  /**
   * The mesh PKI of a trust domain; default: a new one per run. `mutate` shares one across its runs, because CA key
   * generation blocks the event loop for seconds, which would stall the probes of runs going on at the same time.
   */
  readonly pkiFor?: (trustDomain: string) => MeshPki;
  /** Once aborted, no further scenario starts; the result then holds only the scenarios that ran (`mutate --fail-fast`). */
  readonly stop?: AbortSignal;
  /**
   * The run's interrupt (SIGINT/SIGTERM): once aborted no scenario or probe starts, probes in flight are given up, and
   * the cells of scenarios still running are errors, never judged on what was seen while the run was being stopped.
   */
  readonly interrupt?: AbortSignal;
  /** Seed of every chaos scenario's fault schedule, instead of the scenario's own (`--seed`). */
  readonly seed?: number;
  /** What a pass claims (`--claim`): PeerAuthentication's required outcomes (`spec`, default) or Istio's (`istio`). */
  readonly claim?: Claim;
}

export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Runs every scenario on the backend and returns the final result. Environment start failures throw (exit 2). */
export async function runSuite(o: RunOptions): Promise<RunResult> {
  const runId = o.runId ?? newRunId();
  const started = new Date();
  const trustDomains = [...new Set(o.scenarios.map((s) => s.trustDomain))];
  if (!o.pkiFor) await prepareKeyPairs(KEYS_PER_PKI * trustDomains.length);
  const pkiFor = o.pkiFor ?? ((trustDomain: string) => createMeshPki({ trustDomain }));
  const pkis = new Map(trustDomains.map((td) => [td, pkiFor(td)]));
  const contexts = new Map([...pkis].map(([td, pki]) => [td, createProbeContext(pki.probeMaterial())]));

  const units = o.scenarios.flatMap((s) => meshModes(s).map((m) => ({ s, m })));
  const plans = units.map(({ s, m }) => plan(o.dataPlane, s, m));
  // Chaos scenarios are checked before anything starts (bad schedules are exit 2) and probe their own cells.
  const chaos = prepareChaos(units, o);
  const cellCount = (p: Plan) => {
    const c = p.s.chaos ? chaos.get(p.s) : undefined;
    return c ? ('cells' in c ? c.cells.length : 0) : p.exps.length;
  };
  o.hooks?.onRunStart?.({ runId, scenarios: units.length, cells: plans.reduce((n, p) => n + cellCount(p), 0) });

  const results: ScenarioResult[] = new Array(plans.length);
  // Chaos scenarios last: their probes fire on a schedule and should not compete with a suite probing at full speed.
  const order = plans.map((_, i) => i).sort((a, b) => Number(plans[a]!.s.chaos !== undefined) - Number(plans[b]!.s.chaos !== undefined) || a - b);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < plans.length && !o.stop?.aborted && !o.interrupt?.aborted) {
      const i = order[next++]!;
      const p = plans[i]!;
      try {
        const c = p.s.chaos ? chaos.get(p.s) : undefined;
        results[i] = c
          ? await runChaosScenario(o, runId, { s: p.s, m: p.m, dataPlane: p.dataPlane, ...(p.skip !== undefined ? { skip: p.skip } : {}) }, c, pkis.get(p.s.trustDomain)!)
          : await runOne(o, runId, p, pkis.get(p.s.trustDomain)!, contexts.get(p.s.trustDomain)!);
      } catch (err) {
        // A scenario cut short by the interrupt (its start aborted) is a hole in an interrupted run, not a failure.
        if (!o.interrupt?.aborted) failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallelScenarios, plans.length)) }, worker));
  if (failure !== undefined) throw failure;

  const finished = new Date();
  // A stopped run leaves the scenarios it never started as holes.
  const ran = results.filter((r): r is ScenarioResult => r !== undefined);
  const cells = ran.flatMap((r) => r.cells);
  return {
    apiVersion: RUN_RESULT_API_VERSION,
    kind: 'RunResult',
    runId,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    harness: { name: 'meshconform', version: HARNESS_VERSION },
    claim: o.claim ?? 'spec',
    environment: {
      backend: o.backend.name,
      dataPlane: dataPlaneName(o.dataPlane, plans),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      ...(o.backend.details ? { details: { ...o.backend.details } } : {}),
    },
    options: {
      retries: o.retries,
      concurrency: o.concurrency,
      timeoutMs: o.timeoutMs,
      ...(o.grep !== undefined ? { grep: o.grep } : {}),
      paths: [...o.paths],
    },
    summary: summarize(cells),
    lintErrors: ran.reduce((n, r) => n + r.lint.length, 0),
    scenarios: ran,
    ...withDifferentials(ran),
  };
}

function meshModes(s: Scenario): MeshMode[] {
  return s.mode === 'both' ? ['sidecar', 'ambient'] : [s.mode];
}

interface Plan {
  readonly s: Scenario;
  readonly m: MeshMode;
  readonly exps: readonly Expectation[];
  /** The data plane that runs this mode (the run's, or its companion for the other mode). */
  readonly dataPlane: DataPlaneSpec;
  readonly skip?: string;
}

function plan(dataPlane: DataPlaneSpec, s: Scenario, m: MeshMode): Plan {
  const choice = dataPlaneFor(dataPlane, m);
  if ('skip' in choice) return { s, m, exps: [], dataPlane, skip: choice.skip };
  return { s, m, exps: expectations(s, m), dataPlane: choice.dataPlane };
}

/** `reference`, or `reference (ambient: reference-ambient)` when a companion ran some scenarios. */
function dataPlaneName(dataPlane: DataPlaneSpec, plans: readonly Plan[]): string {
  const others = [...new Set(plans.filter((p) => !p.skip && p.dataPlane !== dataPlane).map((p) => `${p.m}: ${p.dataPlane.name}`))];
  return others.length > 0 ? `${dataPlane.name} (${others.join(', ')})` : dataPlane.name;
}

/** The port an `hbone-unserved-port` probe asks the workload's node proxy for (none of its declared ports). */
function unservedPort(s: Scenario, workload: WorkloadKey): number {
  const w = s.workloads.find((x) => `${x.namespace}/${x.name}` === workload);
  return hboneUnservedPort(w?.ports.map((p) => p.port) ?? []);
}

/** A cell of a scenario the interrupt cut short: an error, with the last observation (if any) kept as evidence. */
function interruptedError(e: Expectation, attempts: readonly Observation[], by: InterruptSignal, feature: string): CellResult {
  const last = attempts.at(-1);
  return { ...errorCell(e, interruptedReason(by), feature), ...(last ? { observed: last } : {}) };
}

/** Sidecar-versus-ambient tables of the `mode: both` scenarios that ran in both modes. */
function withDifferentials(ran: readonly ScenarioResult[]): { differentials?: ModeDifferential[] } {
  const differentials = modeDifferentials(ran);
  return differentials.length > 0 ? { differentials } : {};
}

type Pki = ReturnType<typeof createMeshPki>;
type ProbeContext = ReturnType<typeof createProbeContext>;

async function runOne(o: RunOptions, runId: string, p: Plan, pki: Pki, ctx: ProbeContext): Promise<ScenarioResult> {
  const t0 = Date.now();
  const { s, m, exps } = p;
  o.hooks?.onScenarioStart?.({ scenario: s.name, meshMode: m, cells: exps.length });
  const base = {
    name: s.name,
    file: s.file,
    feature: s.feature,
    meshMode: m,
    description: s.description,
    warnings: s.warnings,
    policies: s.policies.map((x) => x.manifest),
  };
  if (p.skip) {
    const result: ScenarioResult = { ...base, summary: summarize([]), lint: [], cells: [], durationMs: 0, skipped: p.skip };
    o.hooks?.onScenarioEnd?.(result);
    return result;
  }
  const lint = lintExpectations(s, m);

  const identities = new Map<WorkloadKey, WorkloadTls>();
  for (const w of s.workloads) {
    const id = pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount });
    identities.set(`${w.namespace}/${w.name}`, id);
  }
  const env = await startEnvironment(o.backend, s.name, {
    runId,
    scenario: s,
    meshMode: m,
    dataPlane: p.dataPlane,
    echoArgv: o.echoArgv,
    identities,
    appTls: pki.appIdentity(),
    readyTimeoutMs: o.readyTimeoutMs,
  });
  const remove = pushTeardown(`environment of ${s.name}`, () => env.stop());
  let cells: CellResult[];
  try {
    // Cells the data plane cannot express are reported skipped with the reason, never probed.
    const skipReason = (e: Expectation) => p.dataPlane.inexpressible?.find((x) => x.client === e.client && (!x.modes || x.modes.includes(e.mode)))?.reason;
    const probed = exps.filter((e) => skipReason(e) === undefined);
    const jobs = new Map<string, ProbeJob>();
    for (const e of probed) {
      const target = env.targets.get(e.workload);
      const id = identities.get(e.workload);
      if (!target || !id) throw new BackendError(`scenario ${s.name}: no target for ${e.workload}`);
      jobs.set(e.key, {
        key: e.key,
        scenario: s.name,
        meshMode: m,
        workload: e.workload,
        port: e.port,
        protocol: e.protocol,
        client: e.client,
        address: target.address,
        // HBONE: address:targetPort is the CONNECT authority; hbone-unserved-port names a port the workload lacks.
        targetPort: e.client === 'hbone-unserved-port' ? unservedPort(s, e.workload) : (target.ports.get(e.port) ?? e.port),
        expectedServerIdentity: id.spiffeId,
      });
    }
    const attempts = new Map<string, Observation[]>(probed.map((e) => [e.key, []]));
    // Every probe carries its own id; the echo app's receipts name the attempts that reached the application.
    const idPrefix = `mc-${randomBytes(6).toString('hex')}-`;
    let idCount = 0;
    const ids = new Map<string, AttemptRef>();
    const collectReceipts = async () => {
      if (!env.receipts || o.interrupt?.aborted) return;
      try {
        applyReceipts(await env.receipts(), ids, attempts);
      } catch {
        // An unreadable receipts channel only withholds evidence: the cells are judged on what the clients saw.
      }
    };
    // One call is one round: a timeout counts as a denial only if its port showed life to another probe of the round.
    // A retry round also fires, once per port it retries, a cell of that port that showed life in the last round
    // (not recorded: it only tells a port that still answers from one that hangs).
    const probe = async (keys: readonly string[]) => {
      const round = keys.map((k) => ({ ...jobs.get(k)!, probeId: `${idPrefix}${++idCount}` }));
      const ports = new Set(round.map(listenerOf));
      const inRound = new Set(keys);
      const companions: ProbeJob[] = [];
      for (const [k, list] of attempts) {
        const last = list.at(-1);
        if (!inRound.has(k) && last && showsLife(last) && ports.delete(listenerOf(jobs.get(k)!))) companions.push({ ...jobs.get(k)!, probeId: `${idPrefix}${++idCount}` });
      }
      const observed = timeoutsWithoutLife(
        [...round, ...companions],
        await runProbes([...round, ...companions], ctx, { concurrency: o.concurrency, timeoutMs: o.timeoutMs, ...(o.interrupt ? { signal: o.interrupt } : {}) }),
      );
      for (const [i, k] of keys.entries()) {
        const obs = observed.get(k);
        const list = attempts.get(k)!;
        // A probe the interrupt cut short or never started observed nothing: no placeholder to pass for evidence.
        if (!obs && o.interrupt?.aborted) continue;
        ids.set(round[i]!.probeId, { key: k, index: list.length });
        list.push(
          obs
            ? { ...obs, attempts: list.length + 1 }
            : { status: 'error', message: 'probe produced no observation', timings: { startedAt: Date.now(), totalMs: 0 }, attempts: list.length + 1 },
        );
      }
      await collectReceipts();
    };
    const judgeAll = () =>
      exps.map((e) => {
        const reason = skipReason(e);
        return reason !== undefined
          ? skippedCell(e, `${p.dataPlane.name} cannot express this cell: ${reason}`, s.feature)
          : judgeCell(e, attempts.get(e.key)!, { feature: s.feature, claim: o.claim ?? 'spec' });
      });

    await probe(probed.map((e) => e.key));
    let problems = env.health();
    for (let r = 0; r < o.retries && problems.length === 0 && !o.interrupt?.aborted; r++) {
      // A fail proven by the application (its answer, or its receipt of the payload) is settled: retries only give a
      // denied or erred cell a chance.
      const again = judgeAll()
        .filter((c, i) => (c.verdict === 'fail' && !(c.observed && provesViolation(exps[i]!, c.observed, o.claim ?? 'spec'))) || c.verdict === 'error')
        .map((c) => c.key);
      if (again.length === 0) break;
      await probe(again);
      problems = env.health();
    }
    // A data plane may hand a payload to the application after the client gave up: look once more before judging.
    await collectReceipts();
    const by = interruptedBy(o.interrupt);
    // After an interrupt nothing is judged: the teardown it began can reset connections a deny cell would count.
    // Observations made while a data plane was down cannot be trusted either way.
    cells = by
      ? exps.map((e) =>
          skipReason(e) !== undefined
            ? skippedCell(e, `${p.dataPlane.name} cannot express this cell: ${skipReason(e)!}`, s.feature)
            : interruptedError(e, attempts.get(e.key)!, by, s.feature),
        )
      : problems.length > 0
        ? exps.map((e) => errorCell(e, `data plane unhealthy: ${problems.join('; ')}`, s.feature))
        : judgeAll();
  } finally {
    await runTeardown(remove, () => env.stop());
  }
  for (const c of cells) o.hooks?.onCellResult?.(c);
  const result: ScenarioResult = { ...base, summary: summarize(cells), lint, cells, durationMs: Date.now() - t0 };
  o.hooks?.onScenarioEnd?.(result);
  return result;
}
