import { performance } from 'node:perf_hooks';
import { PROXY_FAULTS } from '../model/index.js';
import type { CanaryCheck, CellResult, EnvironmentChaos, ScenarioTimeline, TimelineFault, WorkloadKey, WorkloadTls } from '../model/index.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { proxyKey, runFault, type FaultContext, type FaultRecord } from './faults.js';
import { enforcementStats, judgeProbes, judgeRun, measureEnforcement, measureRecovery, type ChangeToMeasure, type EnforcementDetail, type JudgedProbe } from './judge.js';
import { startProber, type Prober } from './prober.js';
import { cellId, type ChaosCell, type ChaosRunInput } from './types.js';
import { World } from './world.js';

export interface ChaosRunResult {
  readonly cells: CellResult[];
  readonly timeline: ScenarioTimeline;
  /** A harness problem: a canary that failed (the fault never landed), a data plane that died on its own. */
  readonly error?: string;
}

/**
 * Runs one chaos scenario on a started environment: probes every cell once per interval for the whole run while the
 * schedule's faults land, proves each fault with its canary, then judges every probe against what was allowed at
 * its moment and checks the invariants. Never stops the environment (the caller owns it).
 */
export async function runChaos(input: ChaosRunInput): Promise<ChaosRunResult> {
  const { schedule, env } = input;
  const workloads: WorkloadKey[] = input.scenario.workloads.map((w) => `${w.namespace}/${w.name}`);
  const chaos = env.chaos ?? noChaos();

  // Fault proxies sit in front of the ports that get a network fault for the whole run, so routing never changes.
  const proxies = new Map<string, FaultProxy>();
  const cleanups: (() => Promise<void>)[] = [];
  try {
    for (const f of schedule.filter((x) => PROXY_FAULTS.includes(x.fault))) {
      const target = env.targets.get(f.workload!)!;
      for (const port of f.port !== undefined ? [f.port] : [...target.ports.keys()]) {
        const key = proxyKey(f.workload!, port);
        if (proxies.has(key)) continue;
        const proxy = await startFaultProxy({ address: target.address, port: target.ports.get(port)! });
        proxies.set(key, proxy);
        const unregister = input.registerCleanup(`fault proxy for ${f.workload}:${port}`, () => proxy.close());
        cleanups.push(async () => {
          unregister();
          await proxy.close();
        });
      }
    }
    return await probeAndJudge(input, workloads, chaos, proxies);
  } finally {
    for (const c of cleanups) await c();
  }
}

async function probeAndJudge(input: ChaosRunInput, workloads: WorkloadKey[], chaos: EnvironmentChaos, proxies: ReadonlyMap<string, FaultProxy>): Promise<ChaosRunResult> {
  const { spec } = input;
  const startedAt = Date.now();
  const clock = runClock(input.signal);
  const world = new World(workloads, input.sets, spec.invariants.timeToEnforceMs, startedAt, input.clientValidity);
  const focus: { on: (ws: readonly WorkloadKey[]) => void } = { on: () => {} };
  const watched = focusing(input, chaos, (ws) => focus.on(ws), workloads);
  const ctx = faultContext(watched.input, watched.chaos, world, clock, proxies, workloads);
  const prober = startCellProber(input, world, clock.now, proxies);
  focus.on = focusOn(input, prober, clock.now);
  let records: FaultRecord[];
  try {
    const running = runSchedule(ctx);
    await clock.sleepUntil(spec.durationMs);
    records = await Promise.all(running);
  } finally {
    await prober.stop();
  }
  const endMs = clock.now();
  closeOpenWindows(world, endMs);
  return judgeTimeline({ input, ctx, prober, records, startedAt, endMs });
}

interface RunClock {
  /** Milliseconds since t = 0. */
  now(): number;
  /** Resolves at `ms` after t = 0, or at once when the run is being stopped. */
  sleepUntil(ms: number): Promise<void>;
}

function runClock(signal: AbortSignal | undefined): RunClock {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const sleepUntil = (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms - now()));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  return { now, sleepUntil };
}

function faultContext(
  input: ChaosRunInput,
  chaos: EnvironmentChaos,
  world: World,
  clock: RunClock,
  proxies: ReadonlyMap<string, FaultProxy>,
  workloads: WorkloadKey[],
): FaultContext {
  return {
    input,
    chaos,
    world,
    now: clock.now,
    sleepUntil: clock.sleepUntil,
    proxies,
    tls: new Map([...input.initialTls].map(([w, m]) => [w, { material: m, bundle: m.caPem }])),
    installed: new Map([...input.initialTls].map(([w, m]) => [w, [m.serial]])),
    currentSet: 'initial',
    paused: new Set(),
    specials: [],
    events: [],
    changes: [],
    recoveries: [],
    workloads,
  };
}

/** Probes every cell through its fault proxy (if any), with the next credentials once the world hands them out. */
function startCellProber(input: ChaosRunInput, world: World, now: () => number, proxies: ReadonlyMap<string, FaultProxy>): Prober {
  return startProber({
    cells: input.cells,
    intervalMs: input.spec.probeIntervalMs,
    concurrency: input.concurrency,
    timeoutMs: input.timeoutMs,
    now,
    jobFor: (cell: ChaosCell) => {
      const proxy = proxies.get(proxyKey(cell.workload, cell.port));
      return input.job(cell, proxy ? { address: proxy.address, port: proxy.port } : undefined);
    },
    credentialsFor: (cell, atMs) => {
      const from = world.nextCredentialsFrom.get(cell.workload);
      return from !== undefined && atMs >= from ? 'next' : 'current';
    },
    probe: input.probe,
  });
}

/** How long a workload's cells stay focused (prober.ts FOCUS_FACTOR) after its data plane changed. */
export const FOCUS_MS = 500;

/**
 * Focuses the cells of workloads whose data plane just changed that some policy set denies: a fail-open shows only
 * where the answer should be deny.
 */
function focusOn(input: ChaosRunInput, prober: Prober, now: () => number): (ws: readonly WorkloadKey[]) => void {
  const deniable = (c: ChaosCell) => [...input.sets.values()].some((s) => s.expectations.get(cellId(c.workload, c.port, c.client))?.outcome === 'deny');
  return (ws) => {
    const cells = input.cells.flatMap((c, i) => (ws.includes(c.workload) && deniable(c) ? [i] : []));
    if (cells.length > 0) prober.focus(cells, now() + FOCUS_MS);
  };
}

/**
 * The environment as the faults see it, reporting each change of a data plane as it is made: its process killed or
 * (re)started and ready, new TLS material or policies handed to it. Those transitions, not the schedule's times, are
 * where a fail-open window opens (issuing a certificate can delay a rotation's reload by hundreds of ms on a busy
 * machine). Network faults act in front of the data plane and change nothing in it.
 */
function focusing(
  input: ChaosRunInput,
  chaos: EnvironmentChaos,
  changed: (ws: readonly WorkloadKey[]) => void,
  workloads: readonly WorkloadKey[],
): { input: ChaosRunInput; chaos: EnvironmentChaos } {
  const after =
    <A extends unknown[]>(fn: (w: WorkloadKey, ...rest: A) => Promise<void>) =>
    async (w: WorkloadKey, ...rest: A) => {
      try {
        await fn(w, ...rest);
      } finally {
        changed([w]);
      }
    };
  const env = input.env;
  return {
    chaos: {
      ...chaos,
      killDataPlane: after((w, signal: 'SIGKILL' | 'SIGTERM') => chaos.killDataPlane(w, signal)),
      startDataPlane: after((w, options?: { readonly clockOffsetMs?: number }) => chaos.startDataPlane(w, options)),
      installTls: after((w, tls: WorkloadTls) => chaos.installTls(w, tls)),
    },
    input: {
      ...input,
      env: {
        ...env,
        async applyPolicies(policies) {
          try {
            await env.applyPolicies(policies);
          } finally {
            changed(workloads);
          }
        },
      },
    },
  };
}

/** Starts every fault of the schedule at its time; each promise settles with what the fault did. */
function runSchedule(ctx: FaultContext): Promise<FaultRecord>[] {
  // Faults on one workload (and every delivery of policies) run one after the other even when a busy machine makes
  // one late: two at once would race on the same process, files or config (a canary reading the next fault's state).
  const lanes = new Map<string, Promise<unknown>>();
  return ctx.input.schedule.map((f) => {
    const keys =
      f.fault === 'policy-change' ? ['policies'] : f.fault === 'distribution-pause' ? ['policies', f.workload!] : f.workload !== undefined ? [f.workload] : ctx.workloads;
    const task = Promise.all(keys.map((k) => lanes.get(k))).then(() => runFault(f, ctx));
    for (const k of keys)
      lanes.set(
        k,
        task.catch(() => {}),
      );
    return task;
  });
}

/** Tolerance and skew windows still open when the run ended close at its end. */
function closeOpenWindows(world: World, endMs: number): void {
  for (const t of world.tolerances) if (t.toMs === Number.POSITIVE_INFINITY) t.toMs = endMs;
  for (const s of world.skews) {
    if (s.settledMs === Number.POSITIVE_INFINITY) s.settledMs = endMs;
    if (s.toMs === Number.POSITIVE_INFINITY) s.toMs = endMs;
    if (s.backMs === Number.POSITIVE_INFINITY) s.backMs = endMs;
  }
}

interface FinishedRun {
  readonly input: ChaosRunInput;
  readonly ctx: FaultContext;
  readonly prober: Prober;
  readonly records: readonly FaultRecord[];
  readonly startedAt: number;
  readonly endMs: number;
}

/** Judges the probes, proves the faults, measures enforcement and recovery, and lays it all out as the timeline. */
function judgeTimeline(run: FinishedRun): ChaosRunResult {
  const { input, ctx, prober, records, endMs } = run;
  const { spec, env } = input;
  const world = ctx.world;
  const { judged, canaries } = judgeWithCanaries(run);
  const faults = timelineFaults(records, canaries);
  const problems = canaryProblems(faults);
  const unproven = problems.length > 0 ? problems.join('; ') : undefined;
  const health = env.health();
  if (health.length > 0) problems.push(`data plane unhealthy: ${health.join('; ')}`);

  const changes = changesToMeasure(ctx.changes, endMs);
  const enforcement = measureEnforcement(changes, judged, world, input.cells, spec.invariants.timeToEnforceMs);
  const recoveries = measureRecoveries(run, judged);
  for (const f of faults) {
    const r = recoveries.find((x) => x.fault === f.name);
    if (r?.recoveryMs !== undefined) (f as { recoveryMs?: number }).recoveryMs = r.recoveryMs;
  }

  const finalSet = (w: WorkloadKey) => world.setOf(w, endMs);
  const judgement = judgeRun({
    scenario: input.scenario,
    cells: input.cells,
    judged,
    enforcement,
    recoveries,
    invariants: spec.invariants,
    finalExpectation: (cell) => world.expectation(finalSet(cell.workload), cell),
    ...(problems.length > 0 ? { harnessError: problems.join('; ') } : {}),
    ...(unproven !== undefined ? { unproven } : {}),
  });

  const lastTte = lastTimeToEnforce(changes, enforcement);
  const probes = judgement.timelineProbes.length;
  const timeline: ScenarioTimeline = {
    startedAt: run.startedAt,
    durationMs: round(endMs),
    faults,
    events: [...ctx.events].sort((a, b) => a.atMs - b.atMs),
    probes: judgement.timelineProbes,
    ...(lastTte !== undefined ? { timeToEnforceMs: lastTte } : {}),
    seed: input.seed,
    probeIntervalMs: spec.probeIntervalMs,
    enforcement: enforcement.map(({ changedCells: _cells, ...m }) => m),
    timeToEnforceStats: enforcementStats(enforcement),
    invariants: judgement.invariants,
    probing: {
      probes,
      perSecond: Math.round((prober.records.length / Math.max(endMs, 1)) * 1000 * 10) / 10,
      skippedBusy: prober.skippedBusy,
      skippedSaturated: prober.skippedSaturated,
      focused: prober.focused,
    },
  };
  return { cells: judgement.cells, timeline, ...(problems.length > 0 ? { error: problems.join('; ') } : {}) };
}

/** The judged probes and each fault's canary checks. */
function judgeWithCanaries(run: FinishedRun): { judged: JudgedProbe[]; canaries: CanaryCheck[][] } {
  const { input, ctx, prober, records, startedAt } = run;
  const judgeAll = () => judgeProbes([...prober.records, ...ctx.specials], ctx.world, input, startedAt);
  const firstJudgement = judgeAll();

  // Canaries: the checks made while the fault landed, then those that need the judged timeline.
  const canaries = records.map((r) => [...r.checks, ...(r.later ? r.later(firstJudgement) : [])]);
  // A fault whose canary failed never landed: the expectations it changed are taken back out before judging again,
  // so its absence shows as the harness error it is, not as a failure of the mesh.
  let undone = false;
  records.forEach((r, i) => {
    if (r.undo && !canaries[i]!.every((x) => x.ok)) {
      r.undo();
      undone = true;
    }
  });
  return { judged: undone ? judgeAll() : firstJudgement, canaries };
}

function timelineFaults(records: readonly FaultRecord[], canaries: readonly CanaryCheck[][]): TimelineFault[] {
  return records.map((r, i) => {
    const checks = canaries[i]!;
    const f = r.fault;
    return {
      name: f.name,
      startMs: round(r.startMs),
      ...(r.endMs !== undefined ? { endMs: round(Math.max(r.endMs, r.startMs)) } : {}),
      kind: f.fault,
      ...(f.workload !== undefined ? { workload: f.workload } : {}),
      ...(f.port !== undefined ? { port: f.port } : {}),
      canary: { ok: checks.length > 0 && checks.every((x) => x.ok), checks },
    };
  });
}

/** One harness problem per fault whose canary did not prove it landed. */
function canaryProblems(faults: readonly TimelineFault[]): string[] {
  const problems: string[] = [];
  for (const f of faults) {
    if (f.canary?.ok) continue;
    const failed = f.canary?.checks.find((x) => !x.ok);
    problems.push(`the canary of fault "${f.name}" failed (${failed ? `${failed.name}: ${failed.detail}` : 'no check ran'}), so the run cannot show the fault's effect`);
  }
  return problems;
}

/** Time to enforce: each change is measured until the next change on the same workload. */
function changesToMeasure(made: FaultContext['changes'], endMs: number): ChangeToMeasure[] {
  return made.map((ch) => {
    const next = made.filter((x) => x.workload === ch.workload && x.atMs > ch.atMs).map((x) => x.atMs);
    return { ...ch, untilMs: Math.min(endMs, ...next) };
  });
}

function measureRecoveries(run: FinishedRun, judged: readonly JudgedProbe[]) {
  const { ctx, records, endMs } = run;
  return ctx.recoveries.map((r) => {
    // Cut off where the next fault on the workload (or the next stage of this one) begins.
    const nextFault = [
      ...records
        .filter((x) => (x.fault.workload === r.workload || x.fault.workload === undefined) && x.fault.fault !== 'policy-change' && x.startMs > r.fromMs)
        .map((x) => x.startMs),
      ...ctx.world.tolerances.filter((t) => t.workload === r.workload && t.fromMs > r.fromMs).map((t) => t.fromMs),
    ];
    const untilMs = Math.min(endMs, ...nextFault);
    const recoveryMs = measureRecovery({ ...r, untilMs }, judged);
    return {
      ...r,
      untilMs,
      ...(recoveryMs !== undefined ? { recoveryMs: Math.round(recoveryMs) } : {}),
      observable: recoveryMs !== undefined || untilMs - r.fromMs >= run.input.spec.invariants.recoveryMs,
    };
  });
}

/** The run's headline time to enforce: that of the last change, if every port it changed was enforced. */
function lastTimeToEnforce(changes: readonly ChangeToMeasure[], enforcement: readonly EnforcementDetail[]): number | undefined {
  const lastAt = changes.length > 0 ? Math.max(...changes.map((x) => x.atMs)) : undefined;
  const lastMeasures = enforcement.filter((m) => changes.some((c) => c.atMs === lastAt && c.change === m.change && c.workload === m.workload && Math.abs(m.atMs - c.atMs) < 1));
  return lastMeasures.length > 0 && lastMeasures.every((m) => m.timeToEnforceMs !== undefined) ? Math.max(...lastMeasures.map((m) => m.timeToEnforceMs!)) : undefined;
}

/** Controls of an environment that has none: only faults that need none (policy changes, network faults) can run. */
function noChaos(): EnvironmentChaos {
  const missing = () => {
    throw new Error('this environment has no chaos controls');
  };
  return {
    capabilities: [],
    dataPlane: missing,
    killDataPlane: missing,
    startDataPlane: missing,
    installTls: missing,
    pauseDistribution: missing,
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;
