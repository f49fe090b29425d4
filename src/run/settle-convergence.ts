import type { CellResult, Claim, Expectation, MtlsMode, Observation, ScenarioTimeline } from '../model/index.js';
import { errorCell, judgeCell, observedOutcome, skippedCell } from '../diff/index.js';
import { converge, type CellConvergence, type ConfigEvidence, type ConvergenceOptions } from '../backend/kube/index.js';
import { BackendError } from '../util/errors.js';
import { skippedFor, type SettleContext, type Settled, type SettlePolicy } from './settle.js';
import { interruptedBy, interruptedCell } from './interrupt.js';

/** Scenario label that says the scenario tests admission: its policy set must be refused by the mesh's admission. */
export const ADMISSION_LABEL = 'admission';

/**
 * Convergence (Gateway API's eventual-consistency rule): one baseline round before the apply, then rounds until every
 * cell shows `successes` matching results in a row within the deadline, counted only once something shows the new
 * configuration reached the cell's proxy; then every converged cell once more. For environments deployed without
 * their policies (a mesh applies them asynchronously).
 */
export function settleByConvergence(o: ConvergenceOptions): SettlePolicy {
  return {
    kind: 'convergence',
    description: `convergence: ${o.successes} in a row within ${o.deadlineMs} ms, rounds ${o.intervalMs} ms apart`,
    settle: (c) => convergeCells(c, o),
  };
}

async function convergeCells(c: SettleContext, o: ConvergenceOptions): Promise<Settled> {
  const { s, exps } = c.unit;
  const admission = s.labels[ADMISSION_LABEL];
  // The baseline round: what every cell shows before the apply (an admission scenario probes nothing).
  let baseline: ReadonlyMap<string, Observation> | undefined;
  if (admission !== 'reject') {
    if (!c.prober) c.log(`baseline: one round of ${c.jobs.size} probes before the apply (what each cell shows on the old configuration)`);
    else baseline = await c.prober.probe([...c.jobs.values()]);
  }
  const applied = (await c.env.applyPolicies(s.policies.map((p) => p.manifest))) ?? { kind: 'applied' as const };
  const appliedAt = Date.now();
  if (applied.kind === 'rejected') {
    const by = applied.layer === 'crd-validation' ? "the API server (the CRD's validation rules, 422 Invalid)" : 'the admission webhook';
    if (admission !== 'reject') {
      throw new BackendError(
        `scenario ${s.name}: ${by} rejected its policies: ${applied.message}. What to do: the scenario loader accepted them, so this mesh's admission is stricter than the spec; if that is what the scenario tests, label it "${ADMISSION_LABEL}: reject"`,
      );
    }
    const why = `admission scenario: ${by} rejected the policy set, as the scenario expects (${applied.message}); no traffic to judge`;
    return { cells: exps.map((e) => skippedCell(e, why, s.feature)), skipped: why };
  }
  if (admission === 'reject') {
    const why = `admission scenario: the policy set was expected to be refused (CRD validation or the webhook), but it was accepted`;
    return { error: why, cells: exps.map((e) => errorCell(e, why, s.feature)) };
  }
  if (!c.prober) {
    c.log(
      `probe: ${c.jobs.size} jobs per round in one {"type":"batch"} line of the agent session, to the pods' IPs and workload ports; rounds ${o.intervalMs} ms apart until every cell shows ${o.successes} matching results in a row or ${o.deadlineMs} ms pass; a cell whose expectation equals its baseline counts only after evidence that the new configuration is on its proxy (another cell of it changed, or istioctl shows it); then every converged cell once more`,
    );
    return { cells: exps.map((e) => skippedCell(e, 'dry run: nothing was probed', s.feature)) };
  }
  const outcome = await runConvergence(c, o, baseline!);
  const ctx = { feature: s.feature, claim: c.claim };
  const judged = exps.map((e) => skippedFor(c, e) ?? convergedCell(e, outcome.get(e.key)!, o, ctx));
  // After an interrupt nothing is judged: the clean-up it began can change what a probe sees.
  const by = interruptedBy(c.interrupt);
  const cells = by ? judged.map((cell) => interruptedCell(cell, by)) : judged;
  return { cells, timeline: timeline(appliedAt, exps, outcome) };
}

function runConvergence(c: SettleContext, o: ConvergenceOptions, baseline: ReadonlyMap<string, Observation>): Promise<ReadonlyMap<string, CellConvergence>> {
  const { s, exps } = c.unit;
  const prober = c.prober!;
  const byKey = new Map(exps.map((e) => [e.key, e]));
  const judge = (key: string, obs: Observation) => {
    const v = judgeCell(byKey.get(key)!, [obs], { feature: s.feature, claim: c.claim }).verdict;
    return v === 'pass' ? 'match' : v === 'error' ? 'error' : 'mismatch';
  };
  // The mTLS mode each proxy must show per port, for the mesh's own view of the new configuration.
  const modes = new Map<string, Map<number, MtlsMode>>();
  for (const e of exps) {
    const perPort = modes.get(e.workload) ?? new Map<number, MtlsMode>();
    perPort.set(e.port, e.mode);
    modes.set(e.workload, perPort);
  }
  const evidence = c.env.configEvidence;
  return converge([...c.jobs.keys()], (keys) => prober.probe(keys.map((k) => c.jobs.get(k)!)), judge, o, {
    baseline,
    proxyOf: (k) => byKey.get(k)!.workload,
    outcomeOf: (obs) => observedOutcome(obs),
    ...(evidence ? { configOn: (proxy: string) => evidence(proxy, modes.get(proxy) ?? new Map()) } : {}),
  });
}

const EVIDENCE_TEXT: Record<ConfigEvidence, string> = {
  'differs-from-baseline': 'it differs from what the cell showed before the apply',
  'proxy-flipped': 'another cell of the same proxy changed from its baseline',
  'proxy-config': "the mesh's own view of the proxy (istioctl) showed the new configuration",
  none: 'nothing showed the new configuration on the proxy',
};

type JudgeContext = { readonly feature: string; readonly claim: Claim };
const reasonOf = (e: Expectation, obs: Observation, ctx: JudgeContext) => judgeCell(e, [obs], ctx).reason.replace(/\.$/, '');

/** The verdict of one cell from its convergence history (see CellConvergence for what flapping means). */
export function convergedCell(e: Expectation, c: CellConvergence, o: ConvergenceOptions, ctx: JudgeContext): CellResult {
  const n = c.history.length;
  const evidence = ` Evidence of the new configuration: ${EVIDENCE_TEXT[c.evidence]}.`;
  if (c.evidence === 'none') {
    const cell = judgeCell(e, [c.history.at(-1)!.observation], ctx);
    const reason = `undecided: the cell shows what it showed before the apply (${cell.reason.replace(/\.$/, '')}), and nothing showed that the new configuration reached ${e.workload} within ${o.deadlineMs} ms (no other cell of it changed, and istioctl did not show it), so a match could be the old configuration.`;
    return withAttempts({ ...cell, verdict: 'error', reason }, n);
  }
  // Observations before the evidence ran on the old configuration: shown on the timeline, never judged.
  const h = c.history.slice(c.countedFrom);
  if (c.converged && !c.flapped) {
    const cell = judgeCell(e, [h.at(-1)!.observation], ctx);
    const reason = `${cell.reason} Enforced ${Math.round(c.enforcedAtMs!)} ms after the apply (${o.successes} matching results in a row, and once more after every cell converged).${evidence}`;
    return withAttempts({ ...cell, reason }, n);
  }
  if (c.converged) {
    const firstMatch = h.findIndex((x) => x.judgement === 'match');
    const flip = h.findIndex((x, i) => i > firstMatch && x.judgement !== 'match');
    const cell = judgeCell(e, [h[flip]!.observation, h.at(-1)!.observation], ctx);
    const reason = `matched at ${Math.round(h[firstMatch]!.atMs)} ms, then disagreed at ${Math.round(h[flip]!.atMs)} ms (${reasonOf(e, h[flip]!.observation, ctx)}), then settled at ${Math.round(c.enforcedAtMs!)} ms after the apply.${evidence}`;
    return withAttempts({ ...cell, verdict: 'flaky', reason }, n);
  }
  const cell = judgeCell(
    e,
    h.map((x) => x.observation),
    ctx,
  );
  const settle = c.finalMismatch
    ? `It had converged, but the probe after every cell converged disagreed.`
    : `No ${o.successes} matching results in a row within ${o.deadlineMs} ms of the apply (${n} probes).`;
  const matches = h.filter((x) => x.judgement === 'match').length;
  // It matched at times but never held: flaky, never a pass (even when the first probe happened to match).
  if (matches > 0) {
    const last = h.findLast((x) => x.judgement !== 'match')!;
    const reason = `matched ${matches} of ${h.length} times; at ${Math.round(last.atMs)} ms: ${reasonOf(e, last.observation, ctx)}. ${settle}${evidence}`;
    return withAttempts({ ...cell, verdict: 'flaky', reason }, n);
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
