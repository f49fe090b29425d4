/**
 * The one run pipeline, for every backend: plan cells from the oracle, open the backend's session, deploy one scenario
 * (in one mesh mode) at a time, probe through the session's prober (or the host's), settle each cell by the backend's
 * policy (retries, or convergence), judge, tear down. Chaos scenarios take the chaos driver in place of settling.
 */
import { randomBytes } from 'node:crypto';
import type {
  Backend,
  BackendSession,
  CellResult,
  Claim,
  DataPlaneSpec,
  Expectation,
  HostBackend,
  MeshMode,
  ModeDifferential,
  RunResult,
  Scenario,
  ScenarioResult,
  SessionPki,
} from '../model/index.js';
import { RUN_RESULT_API_VERSION } from '../model/index.js';
import { modeDifferentials, summarize } from '../diff/index.js';
import { createMeshPki, KEYS_PER_PKI, prepareKeyPairs, type MeshPki } from '../pki/index.js';
import { hostBackend, isSessionBackend } from '../backend/host-session.js';
import type { ConvergenceOptions } from '../backend/kube/index.js';
import { UsageError } from '../util/errors.js';
import { prepareChaos } from './chaos-driver.js';
import { HARNESS_VERSION } from './version.js';
import { task } from './lifecycle.js';
import { planUnits, chooseTrustDomain, type Planned } from './plan.js';
import { runUnit, type UnitRun } from './run-unit.js';
import { evidenceBudget } from './evidence.js';
import { settleByRetries, type SettlePolicy, type Unit } from './settle.js';
import { settleByConvergence } from './settle-convergence.js';
import { OTHER_TRUST_DOMAIN, PROBE_NAMESPACE, PROBE_SERVICE_ACCOUNT } from '../pki/index.js';

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
  readonly backend: Backend | HostBackend;
  /** The system under test: a data plane the harness starts, or (on Kubernetes) the mesh's name for the report. */
  readonly dataPlane: DataPlaneSpec;
  readonly echoArgv: readonly string[];
  /** Retries backends: extra attempts for a cell that did not match (default 1); refused on a convergence backend. */
  readonly retries?: number;
  /** Convergence backends: the N-in-a-row rule (required there); refused on a retries backend. */
  readonly convergence?: ConvergenceOptions;
  /** Probes in flight at once. */
  readonly concurrency: number;
  /** Per-probe deadline. */
  readonly timeoutMs: number;
  /** Deadline for a data plane to accept TCP on every declared port. */
  readonly readyTimeoutMs: number;
  /** Scenarios whose environments run at the same time (1 where the backend cannot overlap them). */
  readonly parallelScenarios: number;
  /**
   * Static scenarios may reuse data-plane and echo processes of earlier ones (local backend, data planes with the
   * `reuse` capability); default on. `--no-reuse` starts every scenario's processes afresh.
   */
  readonly reuse?: boolean;
  /**
   * Chaos scenarios start only once every static one has ended (`mutate`: a defect the static scenarios catch stops
   * its run before a chaos scenario starts). By default their environments start beside the last static scenarios.
   */
  readonly staticFirst?: boolean;
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
  /** Seed per chaos scenario (by name), before `seed`: what `--rerun-failed` replays from the earlier report. */
  readonly seeds?: ReadonlyMap<string, number>;
  /** What a pass claims (`--claim`): PeerAuthentication's required outcomes (`spec`, default) or Istio's (`istio`). */
  readonly claim?: Claim;
  /** Progress lines for a person (and, in a dry run, the plan's comments). */
  readonly log?: (line: string) => void;
  /**
   * Only these cells (`--only-cell`, `--rerun-failed`): units without one are left out of the run and its report, and
   * within a unit only these cells are probed and reported (a chaos scenario runs its whole schedule). A key that
   * names no cell of the scenarios is a usage error.
   */
  readonly onlyCells?: ReadonlySet<string>;
  /** The run flags, recorded as `options.flags` for reproductions. */
  readonly flags?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The settle policy the backend's family needs, from the options; an option it cannot honour is a usage error. */
export function settlePolicyFor(backend: Backend, o: Pick<RunOptions, 'retries' | 'convergence'>): SettlePolicy {
  if (backend.settle === 'retries') {
    if (o.convergence) throw new UsageError(`the ${backend.name} backend settles cells by retries: convergence options do not apply`);
    return settleByRetries(o.retries ?? 1);
  }
  if (o.retries !== undefined) throw new UsageError(`--retries: the ${backend.name} backend settles cells by convergence (--converge-successes), not retries`);
  if (!o.convergence) throw new UsageError(`the ${backend.name} backend settles cells by convergence: convergence options are required`);
  return settleByConvergence(o.convergence);
}

/**
 * Runs every scenario on the backend and returns the result (in a dry run: a result of skipped cells, the plan having
 * gone to `log`). Setup failures throw (exit 2), and so does an oracle exception (a bug, never a skip).
 */
export async function runSuite(o: RunOptions): Promise<RunResult> {
  const runId = o.runId ?? newRunId();
  const started = new Date();
  const backend = isSessionBackend(o.backend) ? o.backend : hostBackend(o.backend);
  const settle = settlePolicyFor(backend, o);
  const log = o.log ?? (() => {});
  let units = planUnits(o.scenarios, backend, o.dataPlane);
  const trustDomain = backend.meshTrustDomain ? await chooseTrustDomain(backend, units, o.scenarios) : undefined;
  if (trustDomain) units = units.map((u) => trustDomain.skipOf(u));
  const chaos = prepareChaos(units, { backend, ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.seeds ? { seeds: o.seeds } : {}), dataPlane: o.dataPlane });
  // A chaos scenario this run cannot run is a skipped unit like any other (nothing is opened for it alone).
  let planned: Planned[] = units.map((u) => {
    const c = u.s.chaos && u.skip === undefined ? chaos.get(u.s) : undefined;
    return c && 'skip' in c ? { ...u, skip: c.skip, chaos: undefined } : { ...u, chaos: c };
  });
  if (o.onlyCells) planned = onlyCells(planned, o.onlyCells);
  o.hooks?.onRunStart?.({ runId, scenarios: planned.length, cells: planned.reduce((n, p) => n + cellCount(p), 0) });

  // A staged CA rotation's next root needs one more key: generated now, with the others, in parallel.
  const rotations = planned.filter((u) => u.skip === undefined && u.chaos && 'schedule' in u.chaos && u.chaos.schedule.some((f) => f.fault === 'ca-rotation')).length;
  const pkis = await runPkis(o, planned, trustDomain?.name, rotations);
  const results: ScenarioResult[] = new Array(planned.length);
  let session: BackendSession | undefined;
  if (planned.every((u) => u.skip !== undefined)) {
    // Nothing to run: nothing is created or touched.
    if (backend.dryRun) for (const u of planned) log(`scenario ${u.s.name} (${u.m}) skipped: ${u.skip}`);
    log('every scenario is skipped on this backend: nothing to do in the cluster');
  } else {
    const opened = await task(
      `${backend.name} session of run ${runId}`,
      (signal) =>
        backend.open({ runId, pkiFor: (td) => sessionPki(pkis.get(td)!), probe: { timeoutMs: o.timeoutMs, concurrency: o.concurrency }, signal, trustDomain: trustDomain?.name }),
      (s) => s.close(),
      { onInterrupt: (s) => s.onInterrupt?.() },
    );
    session = opened.value;
    try {
      let staticsEnded = () => {};
      const staticScenariosEnded = new Promise<void>((resolve) => (staticsEnded = resolve));
      const run: UnitRun = { o, runId, backend, session, settle, pkis, log, evidence: evidenceBudget(), staticScenariosEnded };
      await eachUnit(o, backend, planned, async (i) => void (results[i] = await runUnit(run, planned[i]!)), session.staticDone?.bind(session), staticsEnded);
    } finally {
      await opened.end();
    }
  }
  // A stopped run leaves the scenarios it never started as holes.
  const ran = session ? results.filter((r): r is ScenarioResult => r !== undefined) : planned.map((u) => skippedOnly(o, u));
  return runResult(o, { runId, started, backend, settle, session, ran, units: planned });
}

/** The units and cells `keys` name; a key naming no cell of the run's scenarios is refused. */
function onlyCells(units: readonly Planned[], keys: ReadonlySet<string>): Planned[] {
  const found = new Set<string>();
  const out: Planned[] = [];
  for (const u of units) {
    const all = u.chaos && 'cells' in u.chaos ? u.chaos.cells.map((c) => c.key) : u.exps.map((e) => e.key);
    const mine = all.filter((k) => keys.has(k));
    for (const k of mine) found.add(k);
    if (mine.length === 0) continue;
    out.push(u.chaos ? u : { ...u, exps: u.exps.filter((e) => keys.has(e.key)), liveness: livenessCells(u.exps, keys) });
  }
  const unknown = [...keys].filter((k) => !found.has(k));
  if (unknown.length > 0) {
    throw new UsageError(
      `--only-cell: ${unknown.length} key(s) name no cell of these scenarios (in a mode this run can run): ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}. Keys are scenario|mode|namespace/workload|port|client, as in report.json`,
    );
  }
  return out;
}

/**
 * For every port a chosen cell probes, up to two unchosen cells of it (mTLS and plaintext first: what a port most often
 * answers), fired beside the chosen ones so a timeout can still count as a denial.
 */
function livenessCells(exps: readonly Expectation[], chosen: ReadonlySet<string>): Expectation[] {
  const ports = new Set(exps.filter((e) => chosen.has(e.key)).map((e) => `${e.workload}|${e.port}`));
  const rank = (e: Expectation) => (e.client.startsWith('mtls') || e.client === 'hbone' ? 0 : e.client.startsWith('plaintext') ? 1 : 2);
  const out: Expectation[] = [];
  for (const port of ports) {
    const others = exps.filter((e) => `${e.workload}|${e.port}` === port && !chosen.has(e.key)).sort((a, b) => rank(a) - rank(b));
    out.push(...others.slice(0, 2));
  }
  return out;
}

function cellCount(p: Planned): number {
  if (p.skip !== undefined) return 0;
  return p.chaos && 'cells' in p.chaos ? p.chaos.cells.length : p.exps.length;
}

/** One PKI per trust domain the runnable units need (one only, where the backend's mesh has one). */
async function runPkis(o: RunOptions, units: readonly Unit[], only: string | undefined, extraKeys: number): Promise<Map<string, MeshPki>> {
  const domains = only !== undefined ? [only] : [...new Set(units.filter((u) => u.skip === undefined).map((u) => u.s.trustDomain))];
  const keys = (o.pkiFor ? 0 : KEYS_PER_PKI * domains.length) + extraKeys;
  if (domains.length > 0 && keys > 0) await prepareKeyPairs(keys);
  const pkiFor = o.pkiFor ?? ((td: string) => createMeshPki({ trustDomain: td }));
  return new Map(domains.map((td) => [td, pkiFor(td)]));
}

/**
 * Runs units through `each`: the static scenarios on up to `parallelScenarios` workers, then the chaos scenarios, longest
 * schedule first. Chaos scenarios do not run beside static ones: their probes fire on a 50 ms schedule, and beside a
 * suite probing at full speed (its data planes starting, too) a planted 50 ms fail-open window was caught in only 9–17
 * of 20 trials, against 20 of 20 on their own; still 13–19 of 20 with the static processes at a lower priority and
 * static work held back while a chaos prober focused on a transition. One worker where the backend cannot overlap
 * scenarios.
 */
async function eachUnit(
  o: RunOptions,
  backend: Backend,
  units: readonly Planned[],
  each: (i: number) => Promise<void>,
  staticDone?: () => Promise<void>,
  staticsEnded?: () => void,
): Promise<void> {
  const all = units.map((_, i) => i);
  // Longest schedule first: the chaos workers then finish closer together (the run ends with its last one).
  const chaos = all.filter((i) => units[i]!.chaos !== undefined).sort((a, b) => (units[b]!.s.chaos?.durationMs ?? 0) - (units[a]!.s.chaos?.durationMs ?? 0) || a - b);
  const plain = all.filter((i) => units[i]!.chaos === undefined);
  let failure: unknown;
  let lastStaticStarted = () => {};
  const allStaticStarted = new Promise<void>((resolve) => (lastStaticStarted = resolve));
  const drain = async (queue: number[]) => {
    while (failure === undefined && queue.length > 0 && !o.stop?.aborted && !o.interrupt?.aborted) {
      const i = queue.shift()!;
      if (queue === plain && queue.length === 0) lastStaticStarted();
      try {
        await each(i);
      } catch (err) {
        // A scenario cut short by the interrupt (its start aborted) is a hole in an interrupted run, not a failure.
        if (!o.interrupt?.aborted) failure ??= err;
      }
    }
  };
  const workers = backend.parallelScenarios ? Math.max(1, o.parallelScenarios) : 1;
  const statics = (async () => {
    await Promise.all(Array.from({ length: Math.min(workers, plain.length) }, () => drain(plain)));
    // Processes kept for reuse by static scenarios would only sit beside the chaos ones.
    staticsEnded?.();
    if (chaos.length > 0) await staticDone?.();
  })();
  // With several workers the chaos scenarios start their environments once the last static one has started; their
  // probing and faults wait for the static scenarios to end (staticsEnded below), so only start-ups overlap.
  await (workers > 1 && o.staticFirst !== true ? Promise.race([allStaticStarted, statics]) : statics);
  // No later static scenario will take an idle process (stopped beside the chaos starts, not before them); the ones
  // still leased go after their scenarios (above).
  const released = chaos.length > 0 ? staticDone?.() : undefined;
  await Promise.all([statics, released, ...Array.from({ length: Math.min(workers, chaos.length) }, () => drain(chaos))]);
  if (failure !== undefined) throw failure;
}

/** The result of a unit that never reached a session (every unit was skipped). */
function skippedOnly(o: RunOptions, u: Unit): ScenarioResult {
  const r: ScenarioResult = { ...scenarioBase(u), lint: [], cells: [], summary: summarize([]), durationMs: 0, skipped: u.skip! };
  o.hooks?.onScenarioStart?.({ scenario: u.s.name, meshMode: u.m, cells: 0 });
  o.hooks?.onScenarioEnd?.(r);
  return r;
}

export function scenarioBase(u: Pick<Unit, 's' | 'm'>): Omit<ScenarioResult, 'summary' | 'lint' | 'cells' | 'durationMs'> {
  const { s, m } = u;
  return { name: s.name, file: s.file, feature: s.feature, meshMode: m, description: s.description, warnings: s.warnings, policies: s.policies.map((x) => x.manifest) };
}

interface RunFacts {
  readonly runId: string;
  readonly started: Date;
  readonly backend: Backend;
  readonly settle: SettlePolicy;
  readonly session: BackendSession | undefined;
  readonly ran: readonly ScenarioResult[];
  readonly units: readonly Unit[];
}

function runResult(o: RunOptions, f: RunFacts): RunResult {
  const finished = new Date();
  const details = f.session?.details() ?? {};
  return {
    apiVersion: RUN_RESULT_API_VERSION,
    kind: 'RunResult',
    runId: f.runId,
    startedAt: f.started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - f.started.getTime(),
    harness: { name: 'meshconform', version: HARNESS_VERSION },
    claim: o.claim ?? 'spec',
    environment: {
      backend: f.backend.name,
      dataPlane: dataPlaneName(o.dataPlane, f.units),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      ...(Object.keys(details).length > 0 ? { details: { ...details } } : {}),
    },
    options: {
      ...(f.settle.retries !== undefined ? { retries: f.settle.retries } : {}),
      settle: f.settle.description,
      concurrency: o.concurrency,
      timeoutMs: o.timeoutMs,
      ...(o.grep !== undefined ? { grep: o.grep } : {}),
      paths: [...o.paths],
      ...(o.flags ? { flags: { ...o.flags } } : {}),
    },
    summary: summarize(f.ran.flatMap((r) => r.cells)),
    lintErrors: f.ran.reduce((n, r) => n + r.lint.length, 0),
    scenarios: [...f.ran],
    ...withDifferentials(f.ran),
  };
}

/** `reference`, or `reference (ambient: reference-ambient)` when a companion ran some scenarios. */
function dataPlaneName(dataPlane: DataPlaneSpec, units: readonly Unit[]): string {
  const others = [...new Set(units.filter((u) => u.skip === undefined && u.dataPlane !== dataPlane).map((u) => `${u.m}: ${u.dataPlane.name}`))];
  return others.length > 0 ? `${dataPlane.name} (${others.join(', ')})` : dataPlane.name;
}

/** Sidecar-versus-ambient tables of the `mode: both` scenarios that ran in both modes. */
function withDifferentials(ran: readonly ScenarioResult[]): { differentials?: ModeDifferential[] } {
  const differentials = modeDifferentials(ran);
  return differentials.length > 0 ? { differentials } : {};
}

/** The run's PKI of one trust domain, as a backend session sees it. */
function sessionPki(pki: MeshPki): SessionPki {
  return {
    trustDomain: pki.trustDomain,
    meshCaPem: pki.meshCaPem,
    writeCaFiles: (dir) => pki.writeCaFiles(dir as Parameters<MeshPki['writeCaFiles']>[0]),
    appIdentity: () => pki.appIdentity(),
    probeMaterial: () => pki.probeMaterial(),
    otherTrustDomain: OTHER_TRUST_DOMAIN,
    probeIdentity: { namespace: PROBE_NAMESPACE, serviceAccount: PROBE_SERVICE_ACCOUNT },
  };
}
