import type { BackendSession, Expectation, ProbeJob, Prober, Backend, ScenarioResult, WorkloadKey, WorkloadTls } from '../model/index.js';
import { isHboneClient } from '../model/index.js';
import { lintExpectations } from '../oracle/index.js';
import { skippedCell, summarize } from '../diff/index.js';
import type { MeshPki } from '../pki/index.js';
import { CLIENT_PROFILES, HBONE_PROFILES, createProbeContext, hboneUnservedPort, runProbes } from '../probe/index.js';
import { BackendError } from '../util/errors.js';
import { task } from './lifecycle.js';
import type { Planned } from './plan.js';
import { scenarioBase, type RunOptions } from './pipeline.js';
import { runChaosScenario } from './chaos-driver.js';
import { ADMISSION_LABEL } from './settle-convergence.js';
import type { Settled, SettlePolicy, Unit } from './settle.js';
import { gatherEvidence, type EvidenceBudget } from './evidence.js';

/** What every unit of one run shares. */
export interface UnitRun {
  readonly o: RunOptions;
  readonly runId: string;
  readonly backend: Backend;
  readonly session: BackendSession;
  readonly settle: SettlePolicy;
  readonly pkis: ReadonlyMap<string, MeshPki>;
  readonly log: (line: string) => void;
  readonly evidence: EvidenceBudget;
  /** Resolves once every static scenario of the run has ended: a chaos scenario's probing and faults wait for it. */
  readonly staticScenariosEnded?: Promise<void>;
}

/** One unit through the pipeline: skip, or deploy, probe, settle, judge and tear down. */
export async function runUnit(r: UnitRun, u: Planned): Promise<ScenarioResult> {
  if (u.skip !== undefined) return skipped(r, u, u.skip);
  if (u.chaos && 'cells' in u.chaos) return runChaosScenario(r, u, u.chaos, r.pkis.get(u.s.trustDomain)!);
  const t0 = Date.now();
  const { s, m, exps } = u;
  r.o.hooks?.onScenarioStart?.({ scenario: s.name, meshMode: m, cells: exps.length });
  const lint = lintExpectations(s, m);
  const here = r.session.unsupportedHere?.(s, m);
  let settled: Settled;
  if (here !== undefined) {
    if (r.backend.dryRun) r.log(`scenario ${s.name} (${m}) skipped: ${here}`);
    settled = { cells: exps.map((e) => skippedCell(e, here, s.feature)), skipped: here };
  } else {
    if (r.backend.dryRun) r.log(`scenario ${s.name} (${m}): ${exps.length} cells`);
    settled = await deployAndSettle(r, u);
  }
  for (const c of settled.cells) r.o.hooks?.onCellResult?.(c);
  const result: ScenarioResult = {
    ...scenarioBase(u),
    summary: summarize(settled.cells),
    lint,
    cells: settled.cells,
    durationMs: Date.now() - t0,
    ...(settled.skipped !== undefined ? { skipped: settled.skipped } : {}),
    ...(settled.error !== undefined ? { error: settled.error } : {}),
    ...(settled.timeline ? { timeline: settled.timeline } : {}),
    ...(settled.attachments ? { attachments: settled.attachments } : {}),
    ...(settled.phases ? { phases: settled.phases } : {}),
  };
  r.o.hooks?.onScenarioEnd?.(result);
  return result;
}

function skipped(r: UnitRun, u: Unit, why: string): ScenarioResult {
  r.o.hooks?.onScenarioStart?.({ scenario: u.s.name, meshMode: u.m, cells: 0 });
  if (r.backend.dryRun) r.log(`scenario ${u.s.name} (${u.m}) skipped: ${why}`);
  const result: ScenarioResult = { ...scenarioBase(u), summary: summarize([]), lint: [], cells: [], durationMs: 0, skipped: why };
  r.o.hooks?.onScenarioEnd?.(result);
  return result;
}

/** The workload identities of a unit, issued by its trust domain's PKI. */
export function issueIdentities(u: Unit, pki: MeshPki): Map<WorkloadKey, WorkloadTls> {
  const identities = new Map<WorkloadKey, WorkloadTls>();
  for (const w of u.s.workloads) identities.set(`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount }));
  return identities;
}

async function deployAndSettle(r: UnitRun, u: Unit): Promise<Settled> {
  const { s, m } = u;
  // An admission scenario needs the mesh's admission to fail closed before anything of it is applied.
  if (s.labels[ADMISSION_LABEL] === 'reject') await r.session.awaitAdmissionReady?.();
  const pki = r.pkis.get(s.trustDomain)!;
  const identities = issueIdentities(u, pki);
  const t0 = Date.now();
  // Filled in as each phase ends; the stop is timed in `finally`, after the result object is built.
  const phases = { deployMs: 0, probeMs: 0, evidenceMs: 0, stopMs: 0 };
  const env = await task(
    `environment of ${s.name}`,
    (signal) =>
      r.session.deploy({
        runId: r.runId,
        scenario: s,
        meshMode: m,
        dataPlane: u.dataPlane,
        echoArgv: r.o.echoArgv,
        identities,
        appTls: pki.appIdentity(),
        readyTimeoutMs: r.o.readyTimeoutMs,
        reuse: r.o.reuse !== false,
        signal,
      }),
    (e) => e.stop(),
  );
  try {
    const prober = r.session.prober ?? (r.backend.dryRun ? undefined : hostProber(r, pki));
    const skipReason = (e: Expectation) => skipReasonOf(u, prober, e);
    const jobs = new Map<string, ProbeJob>();
    for (const e of u.exps) if (skipReason(e) === undefined) jobs.set(e.key, jobOf(u, e, env.value.targets, identities));
    const liveness = new Map((u.liveness ?? []).filter((e) => skipReason(e) === undefined).map((e) => [e.key, jobOf(u, e, env.value.targets, identities)]));
    const unitStart = Date.now();
    phases.deployMs = unitStart - t0;
    const settled = await r.settle.settle({
      unit: u,
      env: env.value,
      jobs,
      ...(prober ? { prober } : {}),
      ...(liveness.size > 0 ? { liveness } : {}),
      skipReason,
      claim: r.o.claim ?? 'spec',
      ...(r.o.interrupt ? { interrupt: r.o.interrupt } : {}),
      log: r.log,
    });
    // The data plane's side of what went wrong, read before the environment (and its logs) go.
    const evidenceStart = Date.now();
    phases.probeMs = evidenceStart - unitStart;
    const withEvidence = await gatherEvidence(env.value, settled.cells, { unitStart, budget: r.evidence, ...(r.o.interrupt ? { interrupt: r.o.interrupt } : {}) });
    phases.evidenceMs = Date.now() - evidenceStart;
    return { ...settled, ...withEvidence, phases };
  } finally {
    const stopStart = Date.now();
    await env.end();
    phases.stopMs = Date.now() - stopStart;
  }
}

const hostContexts = new WeakMap<MeshPki, ReturnType<typeof createProbeContext>>();

/** The host's prober for a trust domain: every client from this process, bounded by the run's concurrency. */
export function hostProber(r: Pick<UnitRun, 'o'>, pki: MeshPki): Prober {
  let ctx = hostContexts.get(pki);
  if (!ctx) hostContexts.set(pki, (ctx = createProbeContext(pki.probeMaterial())));
  const c = ctx;
  const options = { concurrency: r.o.concurrency, timeoutMs: r.o.timeoutMs, ...(r.o.interrupt ? { signal: r.o.interrupt } : {}) };
  return { probe: (jobs) => runProbes(jobs, c, options) };
}

/** Why a cell is not probed: the data plane cannot express it, or the prober lacks its client's credential. */
function skipReasonOf(u: Unit, prober: Prober | undefined, e: Expectation): string | undefined {
  const limit = u.dataPlane.inexpressible?.find((x) => x.client === e.client && (!x.modes || x.modes.includes(e.mode)));
  if (limit) return `${u.dataPlane.name} cannot express this cell: ${limit.reason}`;
  const cred = isHboneClient(e.client) ? HBONE_PROFILES[e.client].credential : (CLIENT_PROFILES[e.client].tls?.credential ?? null);
  if (cred !== null && prober?.credentials && !prober.credentials.includes(cred)) {
    return `the probe agent has no ${cred} client certificate: it needs the mesh CA's key (pass --mesh-ca), which this run does not have`;
  }
  return undefined;
}

/**
 * The one way a probe job is made from a cell (static cells and chaos cells alike): where its workload port is
 * reached, and whom the server must prove to be. `via` sends it through a fault proxy instead.
 */
export function jobOf(
  u: Pick<Unit, 's' | 'm'>,
  e: Pick<Expectation, 'key' | 'workload' | 'port' | 'protocol' | 'client'>,
  targets: ReadonlyMap<WorkloadKey, { address: string; ports: ReadonlyMap<number, number> }>,
  ids: ReadonlyMap<WorkloadKey, { readonly spiffeId: string }>,
  via?: { readonly address: string; readonly port: number },
): ProbeJob {
  const target = targets.get(e.workload);
  const id = ids.get(e.workload);
  if (!target || !id) throw new BackendError(`scenario ${u.s.name}: no target for ${e.workload}`);
  // Only hbone-unserved-port needs the workload's declared ports: a scan per cell costs a large scenario seconds.
  const declared = () => u.s.workloads.find((x) => `${x.namespace}/${x.name}` === e.workload)?.ports.map((p) => p.port) ?? [];
  return {
    key: e.key,
    scenario: u.s.name,
    meshMode: u.m,
    workload: e.workload,
    port: e.port,
    protocol: e.protocol,
    client: e.client,
    address: via?.address ?? target.address,
    // HBONE: address:targetPort is the CONNECT authority; hbone-unserved-port names a port the workload lacks.
    targetPort: via?.port ?? (e.client === 'hbone-unserved-port' ? hboneUnservedPort(declared()) : (target.ports.get(e.port) ?? e.port)),
    expectedServerIdentity: id.spiffeId,
  };
}
