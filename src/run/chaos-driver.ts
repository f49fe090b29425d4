import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type {
  Attachment,
  ChaosClient,
  ClientKind,
  DataPlaneSpec,
  Environment,
  Expectation,
  MeshMode,
  ProbeJob,
  Backend,
  Scenario,
  ScenarioResult,
  WorkloadKey,
} from '../model/index.js';
import { FAULT_DATA_PLANE_NEEDS } from '../model/index.js';
import { expectations, lintExpectations } from '../oracle/index.js';
import { judgeCell, summarize } from '../diff/index.js';
import { prepareKeyPairs, preparedKeyPairs, type MeshPki } from '../pki/index.js';
import { createProbeContext, runProbes, type ProbeContext } from '../probe/index.js';
import {
  buildSchedule,
  cellId,
  effectiveSeed,
  missingCapabilities,
  runChaos,
  vacuousFaults,
  type CertValidity,
  type ChaosCell,
  type ChaosTlsEvidence,
  type IssuedTls,
  type PolicySetView,
  type ScheduledFault,
} from '../chaos/index.js';
import { ScenarioError, formatPos } from '../util/errors.js';
import { own, task } from './lifecycle.js';
import { gatherEvidence } from './evidence.js';
import { interruptedBy, interruptedCell } from './interrupt.js';
import { scenarioBase } from './pipeline.js';
import { jobOf, type UnitRun } from './run-unit.js';

/** A chaos scenario ready to run, or why this run skips it. */
export type ChaosPreparation =
  | { readonly skip: string }
  | {
      readonly seed: number;
      readonly schedule: readonly ScheduledFault[];
      readonly cells: readonly ChaosCell[];
      readonly sets: ReadonlyMap<string, PolicySetView>;
    };

/**
 * Checks every chaos scenario before anything starts: the schedule (generated from the seed), what the backend can
 * do, faults that could prove nothing. Problems are a ScenarioError naming each fault's file:line:column (exit 2).
 */
export function prepareChaos(
  units: readonly { readonly s: Scenario; readonly m: MeshMode; readonly skip?: string }[],
  o: { readonly backend: Backend; readonly seed?: number; readonly seeds?: ReadonlyMap<string, number>; readonly dataPlane: DataPlaneSpec },
): Map<Scenario, ChaosPreparation> {
  const out = new Map<Scenario, ChaosPreparation>();
  const problems: { message: string; source: { file: string; line: number; column: number } }[] = [];
  for (const { s, m, skip } of units) {
    const spec = s.chaos;
    if (!spec || out.has(s) || skip !== undefined) continue;
    const backend = o.backend.name;
    if (spec.backends && !spec.backends.includes(backend)) {
      out.set(s, { skip: `chaos scenario for the ${spec.backends.join(', ')} backend${spec.backends.length > 1 ? 's' : ''} only (this run uses ${backend})` });
      continue;
    }
    if (!o.backend.chaosCapabilities) {
      out.set(s, { skip: `the ${backend} backend has no chaos controls` });
      continue;
    }
    const seed = effectiveSeed(spec, o.seeds?.get(s.name) ?? o.seed);
    const schedule = buildSchedule(spec, s.workloads, seed);
    const lacking = dataPlaneLacks(o.dataPlane, schedule);
    if (lacking) {
      out.set(s, { skip: lacking });
      continue;
    }
    const missing = missingCapabilities(schedule, backend, o.backend.chaosCapabilities);
    if (missing.length > 0) {
      problems.push(...missing);
      continue;
    }
    const sets = policySets(s, m);
    const cells = chaosCells(s, spec.clients, sets.get('initial')!);
    const validity = clientValidityOf(undefined);
    problems.push(...vacuousFaults({ schedule, workloads: s.workloads, cells, sets, clientValidity: validity, startAt: Date.now() }));
    out.set(s, { seed, schedule, cells, sets });
  }
  if (problems.length > 0) {
    const [first, ...rest] = problems;
    throw new ScenarioError([first!.message, ...rest.map((p) => `${formatPos(p.source)}: ${p.message}`)].join('\n'), first!.source);
  }
  return out;
}

/**
 * Why the data plane cannot take this schedule: the first fault needing an optional contract part it does not
 * declare, with the flag that declares it for an exec: data plane; undefined when it can.
 */
export function dataPlaneLacks(dataPlane: DataPlaneSpec, schedule: readonly ScheduledFault[]): string | undefined {
  const has = dataPlane.capabilities ?? [];
  for (const f of schedule) {
    const missing = FAULT_DATA_PLANE_NEEDS[f.fault].filter((c) => !has.includes(c));
    if (missing.length === 0) continue;
    const declare = dataPlane.name.startsWith('exec:') ? `; if it does, declare it with --capabilities ${[...has, ...missing].join(',')}` : '';
    return `data plane ${dataPlane.name} does not declare ${missing.join(' and ')}, which the ${f.fault} fault needs${declare}`;
  }
  return undefined;
}

/** Oracle expectations of every cell under `initial` and every named policy set. */
function policySets(s: Scenario, m: MeshMode): Map<string, PolicySetView> {
  const view = (policies: Scenario['policies']): PolicySetView => ({
    manifests: policies.map((p) => p.manifest),
    expectations: new Map(expectations({ ...s, policies }, m).map((e) => [cellId(e.workload, e.port, e.client), e])),
  });
  const out = new Map<string, PolicySetView>([['initial', view(s.policies)]]);
  for (const [name, policies] of s.chaos!.policySets) out.set(name, view(policies));
  return out;
}

/** The probed cells: every port of every workload × the chosen clients (`plaintext`/`mtls` per port protocol). */
function chaosCells(s: Scenario, clients: readonly ChaosClient[], initial: PolicySetView): ChaosCell[] {
  const out: ChaosCell[] = [];
  for (const w of s.workloads) {
    const wk = `${w.namespace}/${w.name}`;
    for (const p of w.ports) {
      const kinds = new Set<ClientKind>(
        clients.map((c) =>
          c === 'plaintext' ? (p.protocol === 'http' ? 'plaintext-http' : 'plaintext-tcp') : c === 'mtls' ? (p.protocol === 'http' ? 'mtls-http' : 'mtls-tcp') : c,
        ),
      );
      for (const client of kinds) {
        const e = initial.expectations.get(cellId(wk, p.port, client))!;
        out.push({ key: e.key, workload: wk, port: p.port, protocol: p.protocol, client });
      }
    }
  }
  return out;
}

/** Validity of the probe clients' certificates; before the PKI exists, the validity it will give them. */
function clientValidityOf(pki: MeshPki | undefined): Record<'mesh' | 'expired', CertValidity> {
  if (!pki) {
    const t = Date.now();
    return { mesh: { notBefore: t - 3_600_000, notAfter: t + 86_400_000 }, expired: { notBefore: t - 2 * 86_400_000, notAfter: t - 86_400_000 } };
  }
  const v = (pem: string) => {
    const c = new X509Certificate(pem);
    return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
  };
  return { mesh: v(pki.clients.mesh.certPem), expired: v(pki.clients.expired.certPem) };
}

/** Adds what the chaos checks read off the server certificate: serial, expiry, which mesh root issued it. */
function chaosProbeContext(base: ProbeContext, roots: { current: X509Certificate; next?: X509Certificate }): ProbeContext {
  const issuedBy = (cert: X509Certificate, root: X509Certificate) => cert.checkIssued(root) && cert.verify(root.publicKey);
  const cache = new Map<string, Pick<ChaosTlsEvidence, 'serverSerial' | 'serverNotAfter' | 'serverRoot'>>();
  return {
    secureContext: (c) => base.secureContext(c),
    tlsEvidence(socket: tls.TLSSocket, expected: string) {
      // Read before the base context: on Node 20 getPeerX509Certificate() yields the certificate once per socket,
      // after which getPeerCertificate() is empty too; the legacy object read first leaves both working.
      const peer = socket.getPeerCertificate();
      const ev = base.tlsEvidence(socket, expected);
      if (!peer?.raw) return ev;
      let extra = cache.get(peer.fingerprint256);
      if (!extra) {
        const cert = new X509Certificate(peer.raw);
        const root = issuedBy(cert, roots.current) ? 'current' : roots.next && issuedBy(cert, roots.next) ? 'next' : undefined;
        extra = { serverSerial: cert.serialNumber, serverNotAfter: Date.parse(cert.validTo), ...(root ? { serverRoot: root } : {}) };
        if (cache.size > 1024) cache.clear();
        cache.set(peer.fingerprint256, extra);
      }
      return { ...ev, ...extra } as ChaosTlsEvidence;
    },
  };
}

function issued(id: { certPem: string; keyPem: string; caPem: string; spiffeId: string }, bundle: string): IssuedTls {
  const c = new X509Certificate(id.certPem);
  return { ...id, caPem: bundle, serial: c.serialNumber, notAfter: Date.parse(c.validTo) };
}

/**
 * Chaos scenarios probing at once in this process. Their probes share one event loop and fire on a fixed schedule,
 * so more at once would starve the harness (`mutate` runs several suites in one process) and blur every figure.
 * Measured on 2 cores, with the prober focused on transitions: 4 at once catch a planted 50 ms fail-open window in
 * 20 of 20 trials (4–10 fail-open probes per trial), 5 at once in 17–19 of 20. (Before focusing: 3 at once 20/20,
 * 4 at once 19–20, 5 at once 8.)
 */
export const CHAOS_AT_ONCE = 4;
let chaosRunning = 0;
const chaosWaiting: (() => void)[] = [];

async function chaosSlot(): Promise<() => void> {
  if (chaosRunning >= CHAOS_AT_ONCE) await new Promise<void>((resolve) => chaosWaiting.push(resolve));
  chaosRunning++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    chaosRunning--;
    chaosWaiting.shift()?.();
  };
}

/** One chaos scenario: start its environment (one workload per data-plane process), run the schedule, judge, stop. */
export async function runChaosScenario(r: UnitRun, unit: ChaosUnit, prep: Prepared, pki: MeshPki): Promise<ScenarioResult> {
  const release = await chaosSlot();
  try {
    return await runPrepared(r, unit, prep, pki);
  } finally {
    release();
  }
}

type Prepared = Exclude<ChaosPreparation, { skip: string }>;
type ChaosUnit = { readonly s: Scenario; readonly m: MeshMode; readonly dataPlane: DataPlaneSpec };

/** The probe clients' contexts: the current mesh root, and (for a CA rotation) the next root's mesh credential. */
async function chaosCredentials(pki: MeshPki, prep: Prepared) {
  const rotates = prep.schedule.some((f) => f.fault === 'ca-rotation');
  // Usually generated with the run's first keys (pipeline.ts runPkis), off the chaos scenarios' lanes.
  if (rotates && preparedKeyPairs() === 0) await prepareKeyPairs(1);
  const next = rotates ? pki.nextRoot() : undefined;
  const material = pki.probeMaterial();
  const meshCaPem = next ? `${material.meshCaPem.trim()}\n${next.caPem.trim()}\n` : material.meshCaPem;
  const roots = { current: new X509Certificate(pki.meshCaPem), ...(next ? { next: new X509Certificate(next.caPem) } : {}) };
  const current = chaosProbeContext(createProbeContext({ ...material, meshCaPem }), roots);
  const nextCtx = next ? chaosProbeContext(createProbeContext({ ...material, meshCaPem, clients: { ...material.clients, mesh: next.meshClient } }), roots) : current;
  return { next, current, nextCtx };
}
type Credentials = Awaited<ReturnType<typeof chaosCredentials>>;

async function runPrepared(r: UnitRun, unit: ChaosUnit, prep: Prepared, pki: MeshPki): Promise<ScenarioResult> {
  const o = r.o;
  const t0 = Date.now();
  const { s, m } = unit;
  o.hooks?.onScenarioStart?.({ scenario: s.name, meshMode: m, cells: prep.cells.length });
  const lint = lintExpectations(s, m);
  const creds = await chaosCredentials(pki, prep);
  const identities = new Map<WorkloadKey, IssuedTls>();
  for (const w of s.workloads) {
    identities.set(`${w.namespace}/${w.name}`, issued(pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount }), pki.meshCaPem));
  }
  // A chaos fault acts on one workload's data plane: one process per workload.
  const dataPlane: DataPlaneSpec = { ...unit.dataPlane, workloadsPerProcess: 1 };
  // Stops the run's probing and faults on Ctrl-C before the environment goes.
  const stopping = new AbortController();
  const deploy = { runId: r.runId, scenario: s, meshMode: m, dataPlane, echoArgv: o.echoArgv, identities, appTls: pki.appIdentity(), readyTimeoutMs: o.readyTimeoutMs };
  const started = await task(
    `environment of ${s.name}`,
    (signal) => r.session.deploy({ ...deploy, signal }),
    async (e) => {
      stopping.abort();
      await e.stop();
    },
  );
  // Started beside the last static scenarios; probed only once they ended (their load would blur fault timing).
  // (An interrupt ends the static scenarios too: this wait ends with them.)
  await r.staticScenariosEnded;
  const stopOnInterrupt = () => stopping.abort();
  if (o.interrupt?.aborted) stopping.abort();
  else o.interrupt?.addEventListener('abort', stopOnInterrupt, { once: true });
  let result: Awaited<ReturnType<typeof runChaos>>;
  let evidence: Awaited<ReturnType<typeof gatherEvidence>> | undefined;
  try {
    result = await runChaos(chaosRunOptions(r, unit, prep, { pki, creds, identities, env: started.value, signal: stopping.signal }));
    // The data plane's side of what went wrong, read before the environment (and its logs) go.
    evidence = await gatherEvidence(started.value, result.cells, { unitStart: t0, budget: r.evidence, ...(o.interrupt ? { interrupt: o.interrupt } : {}) });
  } finally {
    o.interrupt?.removeEventListener('abort', stopOnInterrupt);
    await started.end();
  }
  return chaosResult(r, unit, { ...result, cells: evidence.cells }, lint, t0, evidence.attachments);
}

/** The chaos runner's view of this run: how to build, fire and judge a probe, and issue certificates. */
function chaosRunOptions(
  r: UnitRun,
  unit: ChaosUnit,
  prep: Prepared,
  w: { pki: MeshPki; creds: Credentials; identities: ReadonlyMap<WorkloadKey, IssuedTls>; env: Environment; signal: AbortSignal },
): Parameters<typeof runChaos>[0] {
  const { o } = r;
  const { s } = unit;
  const { pki, creds, env } = w;
  return {
    scenario: s,
    spec: s.chaos!,
    schedule: prep.schedule,
    seed: prep.seed,
    env,
    cells: prep.cells,
    sets: prep.sets,
    job: (cell, via): ProbeJob => jobOf(unit, cell, env.targets, w.identities, via),
    async probe(job, options) {
      const ctx = options.credentials === 'next' ? creds.nextCtx : creds.current;
      // Through runProbes: a timeout while the harness itself was starved is an error, not a denial.
      const res = await runProbes([job], ctx, { concurrency: 1, timeoutMs: options.timeoutMs, ...(o.interrupt ? { signal: o.interrupt } : {}) });
      return res.get(job.key) ?? { status: 'error', message: 'probe produced no observation', timings: { startedAt: Date.now(), totalMs: 0 }, attempts: 1 };
    },
    matches(exp: Expectation, obs) {
      const c = judgeCell(exp, [obs], { feature: s.feature, claim: o.claim ?? 'spec' });
      return c.verdict === 'pass' ? { kind: 'match' } : c.verdict === 'error' ? { kind: 'error', why: c.reason } : { kind: 'mismatch', why: c.reason };
    },
    initialTls: w.identities,
    issue(wk, options) {
      const wl = s.workloads.find((x) => `${x.namespace}/${x.name}` === wk)!;
      const request = { namespace: wl.namespace, serviceAccount: wl.serviceAccount };
      const validity = options.notAfter !== undefined ? { notAfter: options.notAfter } : undefined;
      const id = options.root === 'next' ? creds.next!.issueWorkload(request, validity) : pki.issueWorkload(request, validity);
      return issued(id, options.bundle);
    },
    meshCaPem: pki.meshCaPem,
    ...(creds.next ? { nextCaPem: creds.next.caPem } : {}),
    clientValidity: clientValidityOf(pki),
    concurrency: o.concurrency,
    timeoutMs: o.timeoutMs,
    registerCleanup: (label, fn) => own(label, fn).release,
    signal: w.signal,
  };
}

function chaosResult(
  r: UnitRun,
  unit: ChaosUnit,
  result: Awaited<ReturnType<typeof runChaos>>,
  lint: ScenarioResult['lint'],
  t0: number,
  attachments: readonly Attachment[] | undefined,
): ScenarioResult {
  const o = r.o;
  // After an interrupt nothing is judged: a fault's teardown and ours look alike to a probe.
  const by = interruptedBy(o.interrupt);
  const judged = by ? result.cells.map((c) => interruptedCell(c, by)) : result.cells;
  // With --only-cell the whole schedule ran (a fault's timing needs every lane), but only the chosen cells are reported.
  const cells = o.onlyCells ? judged.filter((c) => o.onlyCells!.has(c.key)) : judged;
  for (const c of cells) o.hooks?.onCellResult?.(c);
  const scenario: ScenarioResult = {
    ...scenarioBase(unit),
    summary: summarize(cells),
    lint,
    cells,
    durationMs: Date.now() - t0,
    ...(result.error !== undefined ? { error: result.error } : {}),
    timeline: result.timeline,
    ...(attachments ? { attachments } : {}),
  };
  o.hooks?.onScenarioEnd?.(scenario);
  return scenario;
}
