import type { CellResult, Claim, Expectation, MeshMode, MtlsMode, Observation, ProbeJob, RunResult, Scenario, ScenarioResult, ScenarioTimeline } from '../model/index.js';
import { RUN_RESULT_API_VERSION, isHboneClient } from '../model/index.js';
import { expectations, lintExpectations } from '../oracle/index.js';
import { errorCell, judgeCell, observedOutcome, skippedCell, summarize } from '../diff/index.js';
import { createMeshPki, KEYS_PER_PKI, type MeshPki, OTHER_TRUST_DOMAIN, PROBE_NAMESPACE, PROBE_SERVICE_ACCOUNT, prepareKeyPairs, spiffeId } from '../pki/index.js';
import { CLIENT_PROFILES, HBONE_PROFILES, hboneUnservedPort } from '../probe/index.js';
import {
  converge,
  issueFromUserCa,
  type AgentCredential,
  type AgentMaterial,
  type CellConvergence,
  type ConfigEvidence,
  type ConvergenceOptions,
  type KubeBackend,
  type KubeRun,
  type UserCa,
} from '../backend/kube/index.js';
import { BackendError } from '../util/errors.js';
import type { RunHooks } from './run-suite.js';
import { HARNESS_VERSION } from './version.js';

/** Scenario label that says the scenario tests admission: its policy set must be refused by the webhook. */
export const ADMISSION_LABEL = 'admission';

export interface KubeSuiteOptions {
  readonly scenarios: readonly Scenario[];
  readonly paths: readonly string[];
  readonly grep?: string;
  readonly backend: KubeBackend;
  readonly runId: string;
  /** Probes the agent runs at once. */
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly convergence: ConvergenceOptions;
  /** Where the agent's mesh identity comes from: the run's PKI (kind, the CA Istio was installed with), a CA the user gave, or the agent pod's own sidecar. */
  readonly identity: { readonly kind: 'run-pki' } | { readonly kind: 'user-ca'; readonly ca: UserCa } | { readonly kind: 'sidecar-certs' };
  /** Shown as the report's data plane. */
  readonly dataPlaneName: string;
  readonly hooks?: RunHooks;
  /** Progress lines (and, in a dry run, plan comments). */
  readonly log?: (line: string) => void;
  /** The run's PKI (its mesh CA is the plug-in CA on kind); default: a new one for the run's trust domain. */
  readonly pki?: MeshPki;
  /** What a pass claims (`--claim`): PeerAuthentication's required outcomes (`spec`, default) or Istio's (`istio`). */
  readonly claim?: Claim;
}

/** The credential each client kind (direct or HBONE) presents; `null` for none. */
function credentialOf(e: Expectation): AgentCredential | null {
  if (isHboneClient(e.client)) return HBONE_PROFILES[e.client].credential;
  return CLIENT_PROFILES[e.client].tls?.credential ?? null;
}

interface Unit {
  readonly s: Scenario;
  readonly m: MeshMode;
  readonly exps: readonly Expectation[];
  readonly skip?: string;
}

/**
 * A run on the kind or cluster backend: one cluster (Istio installed for kind), one probe agent session, then every
 * scenario in turn (policies are cluster-wide, so scenarios never overlap): deploy, apply, converge, judge, remove.
 * Resolves to undefined in a dry run, which prints the plan instead.
 */
export async function runKubeSuite(o: KubeSuiteOptions): Promise<RunResult | undefined> {
  const started = new Date();
  const log = o.log ?? (() => {});
  const units: Unit[] = o.scenarios.flatMap((s) => (s.mode === 'both' ? (['sidecar', 'ambient'] as const) : [s.mode]).map((m) => unit(o.backend, s, m)));
  // One mesh has one trust domain: an installed mesh's own (meshConfig.trustDomain, read before anything is created),
  // else the first runnable scenario's. A scenario of another is never probed with certificates the mesh rejects.
  const installed = units.some((u) => !u.skip) ? await o.backend.meshTrustDomain() : undefined;
  const trustDomain = installed ?? units.find((u) => !u.skip)?.s.trustDomain ?? o.scenarios[0]?.trustDomain ?? 'cluster.local';
  const runnable = units.map((u) =>
    u.skip || u.s.trustDomain === trustDomain
      ? u
      : {
          ...u,
          exps: [],
          skip:
            installed !== undefined
              ? `the mesh has trust domain ${installed} (meshConfig.trustDomain in its istio ConfigMap), the scenario ${u.s.trustDomain}: its workloads' certificates would name a trust domain the mesh rejects`
              : `the mesh of this run has trust domain ${trustDomain}, the scenario ${u.s.trustDomain} (run it separately with --grep)`,
        },
  );
  o.hooks?.onRunStart?.({ runId: o.runId, scenarios: runnable.length, cells: runnable.reduce((n, u) => n + u.exps.length, 0) });

  let pki = o.pki;
  if (!pki) {
    await prepareKeyPairs(KEYS_PER_PKI);
    pki = createMeshPki({ trustDomain });
  }
  if (pki.trustDomain !== trustDomain) throw new BackendError(`the run's PKI is for trust domain ${pki.trustDomain}, the scenarios need ${trustDomain}`);
  const material = agentMaterial(o, pki, trustDomain);
  if (runnable.every((u) => u.skip)) {
    // Nothing to run: no cluster is created or touched.
    if (o.backend.dryRun) for (const u of runnable) log(`scenario ${u.s.name} (${u.m}) skipped: ${u.skip}`);
    log('every scenario is skipped on this backend: nothing to do in the cluster');
    const skipped = runnable.map((u) => skippedResult(o, u));
    return o.backend.dryRun ? undefined : result(o, started, skipped, undefined);
  }
  const kube = await o.backend.open({
    runId: o.runId,
    trustDomain,
    ...(o.identity.kind === 'run-pki' ? { writeCaFiles: (dir) => pki.writeCaFiles(dir) } : {}),
    appTls: pki.appIdentity(),
    agent: { material, timeoutMs: o.timeoutMs, concurrency: o.concurrency },
  });
  const results: ScenarioResult[] = [];
  try {
    for (const u of runnable) results.push(await runUnit(o, kube, u, trustDomain, log));
  } finally {
    await kube.close();
  }
  if (o.backend.dryRun) return undefined;
  return result(o, started, results, kube);
}

function result(o: KubeSuiteOptions, started: Date, results: ScenarioResult[], kube: KubeRun | undefined): RunResult {
  const finished = new Date();
  const cells = results.flatMap((r) => r.cells);
  return {
    apiVersion: RUN_RESULT_API_VERSION,
    kind: 'RunResult',
    runId: o.runId,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    harness: { name: 'meshconform', version: HARNESS_VERSION },
    claim: o.claim ?? 'spec',
    environment: {
      backend: o.backend.name,
      dataPlane: o.dataPlaneName,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      details: {
        ...o.backend.details(),
        convergence: `${o.convergence.successes} in a row within ${o.convergence.deadlineMs} ms, rounds ${o.convergence.intervalMs} ms apart`,
        ...(kube?.agent?.meshIdentity ? { probeIdentity: kube.agent.meshIdentity } : {}),
      },
    },
    options: { retries: 0, concurrency: o.concurrency, timeoutMs: o.timeoutMs, ...(o.grep !== undefined ? { grep: o.grep } : {}), paths: [...o.paths] },
    summary: summarize(cells),
    lintErrors: results.reduce((n, r) => n + r.lint.length, 0),
    scenarios: results,
  };
}

/** A scenario that does not run on this backend, with the reason. */
function skippedResult(o: KubeSuiteOptions, u: Unit): ScenarioResult {
  const r: ScenarioResult = {
    name: u.s.name,
    file: u.s.file,
    feature: u.s.feature,
    meshMode: u.m,
    description: u.s.description,
    warnings: u.s.warnings,
    policies: u.s.policies.map((x) => x.manifest),
    lint: [],
    cells: [],
    summary: summarize([]),
    durationMs: 0,
    skipped: u.skip!,
  };
  o.hooks?.onScenarioStart?.({ scenario: u.s.name, meshMode: u.m, cells: 0 });
  o.hooks?.onScenarioEnd?.(r);
  return r;
}

function unit(backend: KubeBackend, s: Scenario, m: MeshMode): Unit {
  if ((s as { chaos?: unknown }).chaos !== undefined) {
    return { s, m, exps: [], skip: `a chaos scenario: its faults need a backend with chaos controls (local, netns, docker); --backend ${backend.name} probes scenarios at rest` };
  }
  const skip = backend.unsupported(s, m);
  if (skip) return { s, m, exps: [], skip };
  try {
    return { s, m, exps: expectations(s, m) };
  } catch (err) {
    // The oracle does not model this mesh mode (yet): nothing to compare with.
    return { s, m, exps: [], skip: (err as Error).message };
  }
}

function agentMaterial(o: KubeSuiteOptions, pki: MeshPki, trustDomain: string): AgentMaterial {
  const own = pki.probeMaterial();
  switch (o.identity.kind) {
    case 'run-pki':
      return own;
    case 'user-ca': {
      const issued = issueFromUserCa(o.identity.ca, {
        trustDomain,
        otherTrustDomain: OTHER_TRUST_DOMAIN,
        identity: { namespace: PROBE_NAMESPACE, serviceAccount: PROBE_SERVICE_ACCOUNT },
      });
      return { meshCaPem: issued.meshCaPem!, appCaPem: own.appCaPem, clients: { ...issued.clients, foreignCa: own.clients.foreignCa } };
    }
    case 'sidecar-certs':
      // The mesh credential and trust bundle come from the agent pod's sidecar; expired and other-trust-domain
      // certificates need the mesh CA's key, which this run does not have.
      return { appCaPem: own.appCaPem, clients: { foreignCa: own.clients.foreignCa } };
    default: {
      const never: never = o.identity;
      throw new BackendError(`unknown identity ${JSON.stringify(never)}`);
    }
  }
}

async function runUnit(o: KubeSuiteOptions, kube: KubeRun, u: Unit, trustDomain: string, log: (line: string) => void): Promise<ScenarioResult> {
  const t0 = Date.now();
  const { s, m, exps } = u;
  o.hooks?.onScenarioStart?.({ scenario: s.name, meshMode: m, cells: exps.length });
  const base = { name: s.name, file: s.file, feature: s.feature, meshMode: m, description: s.description, warnings: s.warnings, policies: s.policies.map((x) => x.manifest) };
  const finish = (r: Omit<ScenarioResult, 'summary' | 'durationMs'>): ScenarioResult => {
    const result: ScenarioResult = { ...r, summary: summarize(r.cells), durationMs: Date.now() - t0 };
    for (const c of r.cells) o.hooks?.onCellResult?.(c);
    o.hooks?.onScenarioEnd?.(result);
    return result;
  };
  if (u.skip) {
    if (o.backend.dryRun) log(`scenario ${s.name} (${m}) skipped: ${u.skip}`);
    return finish({ ...base, lint: [], cells: [], skipped: u.skip });
  }
  const lint = lintExpectations(s, m);
  const here = kube.unsupportedHere(s, m);
  if (here) {
    if (o.backend.dryRun) log(`scenario ${s.name} (${m}) skipped: ${here}`);
    return finish({ ...base, lint, cells: exps.map((e) => skippedCell(e, here, s.feature)), skipped: here });
  }
  if (o.backend.dryRun) log(`scenario ${s.name} (${m}): ${exps.length} cells`);
  const admission = s.labels[ADMISSION_LABEL];
  if (admission === 'reject') await kube.awaitAdmissionReady();
  const env = await kube.deploy(s, m);
  try {
    const credentials = new Set<AgentCredential>(kube.agent?.credentials ?? ['mesh', 'foreignCa', 'expired', 'otherTrustDomain']);
    const skipReason = (e: Expectation): string | undefined => {
      const cred = credentialOf(e);
      if (cred !== null && !credentials.has(cred)) {
        return `the probe agent has no ${cred} client certificate: it needs the mesh CA's key (pass --mesh-ca), which this run does not have`;
      }
      return undefined;
    };
    const probed = exps.filter((e) => skipReason(e) === undefined);
    const jobs = new Map<string, ProbeJob>();
    for (const e of probed) {
      const w = s.workloads.find((x) => `${x.namespace}/${x.name}` === e.workload)!;
      jobs.set(e.key, {
        key: e.key,
        scenario: s.name,
        meshMode: m,
        workload: e.workload,
        port: e.port,
        protocol: e.protocol,
        client: e.client,
        address: env.targets.get(e.workload)!.address,
        // HBONE: address:targetPort is the CONNECT authority; hbone-unserved-port names a port the workload lacks.
        targetPort: e.client === 'hbone-unserved-port' ? hboneUnservedPort(w.ports.map((p) => p.port)) : e.port,
        expectedServerIdentity: spiffeId(trustDomain, w.namespace, w.serviceAccount),
      });
    }
    // The baseline round: what every cell shows before the apply (an admission scenario probes nothing).
    let baseline: ReadonlyMap<string, Observation> | undefined;
    if (admission !== 'reject') {
      if (!kube.agent) log(`baseline: one round of ${jobs.size} probes before the apply (what each cell shows on the old configuration)`);
      else baseline = await kube.agent.probe([...jobs.values()]);
    }
    const applied = await env.applyPolicies(s.policies.map((p) => p.manifest));
    const appliedAt = Date.now();
    if (applied.kind === 'rejected') {
      const by = applied.layer === 'crd-validation' ? "the API server (the CRD's validation rules, 422 Invalid)" : 'the admission webhook';
      if (admission !== 'reject') {
        throw new BackendError(
          `scenario ${s.name}: ${by} rejected its policies: ${applied.message}. What to do: the scenario loader accepted them, so this mesh's admission is stricter than the spec; if that is what the scenario tests, label it "${ADMISSION_LABEL}: reject"`,
        );
      }
      const why = `admission scenario: ${by} rejected the policy set, as the scenario expects (${applied.message}); no traffic to judge`;
      return finish({ ...base, lint, cells: exps.map((e) => skippedCell(e, why, s.feature)), skipped: why });
    }
    if (admission === 'reject') {
      const why = `admission scenario: the policy set was expected to be refused (CRD validation or the webhook), but it was accepted`;
      return finish({ ...base, lint, error: why, cells: exps.map((e) => errorCell(e, why, s.feature)) });
    }

    if (!kube.agent) {
      log(
        `probe: ${jobs.size} jobs per round in one {"type":"batch"} line of the agent session, to the pods' IPs and workload ports; rounds ${o.convergence.intervalMs} ms apart until every cell shows ${o.convergence.successes} matching results in a row or ${o.convergence.deadlineMs} ms pass; a cell whose expectation equals its baseline counts only after evidence that the new configuration is on its proxy (another cell of it changed, or istioctl shows it); then every converged cell once more`,
      );
      return finish({ ...base, lint, cells: exps.map((e) => skippedCell(e, 'dry run: nothing was probed', s.feature)) });
    }
    const agent = kube.agent;
    const byKey = new Map(exps.map((e) => [e.key, e]));
    const claim = o.claim ?? 'spec';
    const judge = (key: string, obs: Observation) => {
      const v = judgeCell(byKey.get(key)!, [obs], { feature: s.feature, claim }).verdict;
      return v === 'pass' ? 'match' : v === 'error' ? 'error' : 'mismatch';
    };
    // The mTLS mode each proxy must show per port, for the mesh's own view of the new configuration.
    const modes = new Map<string, Map<number, MtlsMode>>();
    for (const e of exps) {
      const perPort = modes.get(e.workload) ?? new Map<number, MtlsMode>();
      perPort.set(e.port, e.mode);
      modes.set(e.workload, perPort);
    }
    const outcome = await converge([...jobs.keys()], (keys) => agent.probe(keys.map((k) => jobs.get(k)!)), judge, o.convergence, {
      baseline: baseline!,
      proxyOf: (k) => byKey.get(k)!.workload,
      outcomeOf: (obs) => observedOutcome(obs),
      ...(env.configEvidence ? { configOn: (proxy: string) => env.configEvidence!(proxy, modes.get(proxy) ?? new Map()) } : {}),
    });
    const cells: CellResult[] = exps.map((e) => {
      const reason = skipReason(e);
      return reason !== undefined ? skippedCell(e, reason, s.feature) : convergedCell(e, outcome.get(e.key)!, o.convergence, { feature: s.feature, claim });
    });
    return finish({ ...base, lint, cells, timeline: timeline(appliedAt, exps, outcome) });
  } finally {
    await env.remove();
  }
}

const EVIDENCE_TEXT: Record<ConfigEvidence, string> = {
  'differs-from-baseline': 'it differs from what the cell showed before the apply',
  'proxy-flipped': 'another cell of the same proxy changed from its baseline',
  'proxy-config': "the mesh's own view of the proxy (istioctl) showed the new configuration",
  none: 'nothing showed the new configuration on the proxy',
};

/** The verdict of one cell from its convergence history (see CellConvergence for what flapping means). */
function convergedCell(e: Expectation, c: CellConvergence, o: ConvergenceOptions, ctx: { readonly feature: string; readonly claim: Claim }): CellResult {
  const all = c.history;
  // Observations before the evidence ran on the old configuration: shown on the timeline, never judged.
  const h = all.slice(c.countedFrom);
  const observations = h.map((x) => x.observation);
  const n = all.length;
  const evidence = ` Evidence of the new configuration: ${EVIDENCE_TEXT[c.evidence]}.`;
  if (c.evidence === 'none') {
    const cell = judgeCell(e, [all.at(-1)!.observation], ctx);
    return withAttempts(
      {
        ...cell,
        verdict: 'error',
        reason: `undecided: the cell shows what it showed before the apply (${cell.reason.replace(/\.$/, '')}), and nothing showed that the new configuration reached ${e.workload} within ${o.deadlineMs} ms (no other cell of it changed, and istioctl did not show it), so a match could be the old configuration.`,
      },
      n,
    );
  }
  if (c.converged && !c.flapped) {
    const cell = judgeCell(e, [observations.at(-1)!], ctx);
    return withAttempts(
      {
        ...cell,
        reason: `${cell.reason} Enforced ${Math.round(c.enforcedAtMs!)} ms after the apply (${o.successes} matching results in a row, and once more after every cell converged).${evidence}`,
      },
      n,
    );
  }
  if (c.converged) {
    const firstMatch = h.findIndex((x) => x.judgement === 'match');
    const flip = h.findIndex((x, i) => i > firstMatch && x.judgement !== 'match');
    const cell = judgeCell(e, [h[flip]!.observation, observations.at(-1)!], ctx);
    const flipText = judgeCell(e, [h[flip]!.observation], ctx).reason.replace(/\.$/, '');
    return withAttempts(
      {
        ...cell,
        verdict: 'flaky',
        reason: `matched at ${Math.round(h[firstMatch]!.atMs)} ms, then disagreed at ${Math.round(h[flip]!.atMs)} ms (${flipText}), then settled at ${Math.round(c.enforcedAtMs!)} ms after the apply.${evidence}`,
      },
      n,
    );
  }
  const cell = judgeCell(e, observations, ctx);
  const settle = c.finalMismatch
    ? `It had converged, but the probe after every cell converged disagreed.`
    : `No ${o.successes} matching results in a row within ${o.deadlineMs} ms of the apply (${n} probes).`;
  const matches = h.filter((x) => x.judgement === 'match').length;
  // It matched at times but never held: flaky, never a pass (even when the first probe happened to match).
  if (matches > 0) {
    const last = h.findLast((x) => x.judgement !== 'match')!;
    const lastText = judgeCell(e, [last.observation], ctx).reason.replace(/\.$/, '');
    return withAttempts({ ...cell, verdict: 'flaky', reason: `matched ${matches} of ${h.length} times; at ${Math.round(last.atMs)} ms: ${lastText}. ${settle}${evidence}` }, n);
  }
  return withAttempts({ ...cell, reason: `${cell.reason} ${settle}${evidence}` }, n);
}

function withAttempts(cell: CellResult, n: number): CellResult {
  return cell.observed ? { ...cell, observed: { ...cell.observed, attempts: n } } : cell;
}

function timeline(appliedAt: number, exps: readonly Expectation[], outcome: ReadonlyMap<string, CellConvergence>): ScenarioTimeline {
  const probes = exps.flatMap((e) =>
    (outcome.get(e.key)?.history ?? []).map((x) => ({
      atMs: x.atMs,
      key: e.key,
      workload: e.workload,
      port: e.port,
      client: e.client,
      expected: e.outcome,
      observed: observedOutcome(x.observation) ?? ('error' as const),
    })),
  );
  probes.sort((a, b) => a.atMs - b.atMs);
  const all = [...outcome.values()];
  const tte = all.length > 0 && all.every((c) => c.converged) ? Math.max(...all.map((c) => c.enforcedAtMs ?? 0)) : undefined;
  return {
    startedAt: appliedAt,
    durationMs: probes.reduce((m, p) => Math.max(m, p.atMs), 0),
    faults: [],
    events: [{ atMs: 0, label: 'policies applied' }],
    probes,
    ...(tte !== undefined ? { timeToEnforceMs: Math.round(tte) } : {}),
  };
}
