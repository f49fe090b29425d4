import type { CellKey, Observation } from '../../model/index.js';

/** How one observation compares with what the cell must show (the run decides: it knows the oracle). */
export type Judgement = 'match' | 'mismatch' | 'error';

/** Gateway API's eventual-consistency rule, with its settings in one place. */
export interface ConvergenceOptions {
  /** Identical matching results in a row that make a cell converged. */
  readonly successes: number;
  /** Give up on the cells still unconverged this long after the apply. */
  readonly deadlineMs: number;
  /** Pause between two probe rounds. */
  readonly intervalMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Defaults (documented in the README): 3 in a row, within 60 s, rounds 500 ms apart. */
export const CONVERGENCE_DEFAULTS = { successes: 3, deadlineMs: 60_000, intervalMs: 500 } as const;

export interface TimedObservation {
  /** Milliseconds after the apply. */
  readonly atMs: number;
  readonly observation: Observation;
  readonly judgement: Judgement;
}

/**
 * What showed that the new configuration was on the cell's proxy before its matches counted. istiod debounces pushes
 * (PILOT_DEBOUNCE_AFTER 100 ms, up to PILOT_DEBOUNCE_MAX 10 s under churn: pilot/pkg/features/tuning.go) and nothing
 * acknowledges an apply, so a cell whose expectation equals what it showed before the apply proves nothing by matching.
 * - `differs-from-baseline`: the expectation differs from the baseline, so a match is the new configuration itself;
 * - `proxy-flipped`: another cell of the same proxy changed from its baseline;
 * - `proxy-config`: the mesh's own view (the sidecar's inbound listener, ztunnel's policies) shows the new configuration;
 * - `none`: nothing did before the deadline (the cell's matches never counted).
 */
export type ConfigEvidence = 'differs-from-baseline' | 'proxy-flipped' | 'proxy-config' | 'none';

/** The baseline round and the evidence sources; without it every match counts from the apply (as before). */
export interface EvidenceOptions {
  /** What each cell showed in the round probed before the apply. */
  readonly baseline: ReadonlyMap<CellKey, Observation>;
  /** The proxy that enforces a cell (its workload). */
  readonly proxyOf: (key: CellKey) => string;
  /** The outcome an observation shows (allow, deny, passthrough), undefined for errors: flips compare these. */
  readonly outcomeOf: (observation: Observation) => string | undefined;
  /** Whether the mesh's own view shows the new configuration on a proxy (istioctl); absent: only flips count. */
  readonly configOn?: (proxy: string) => Promise<boolean>;
}

export interface CellConvergence {
  readonly history: readonly TimedObservation[];
  /** Index in `history` from which observations count (those before ran on the old configuration). */
  readonly countedFrom: number;
  readonly evidence: ConfigEvidence;
  /** The one probe after every cell converged disagreed: the cell did not hold. */
  readonly finalMismatch: boolean;
  /** `successes` matching results in a row before the deadline. */
  readonly converged: boolean;
  /** When the final run of matches began (ms after the apply): the cell's time to enforce. Absent when not converged. */
  readonly enforcedAtMs?: number;
  /**
   * The cell matched, then disagreed again before it settled: a result that flips is flaky. Disagreeing before the
   * first match is the policy still propagating, which the time to enforce measures.
   */
  readonly flapped: boolean;
}

/**
 * After an apply: probe every unconverged cell each round (one batch through `probe`) until each has `successes`
 * matching results in a row, or the deadline passes. Converged cells are not probed again until the end, when every
 * converged cell is probed once more. With `ev`, a cell whose baseline already matched its expectation starts its
 * streak only in the round after evidence that the new configuration reached its proxy (see ConfigEvidence).
 */
export async function converge(
  keys: readonly CellKey[],
  probe: (keys: readonly CellKey[]) => Promise<ReadonlyMap<CellKey, Observation>>,
  judge: (key: CellKey, observation: Observation) => Judgement,
  o: ConvergenceOptions,
  ev?: EvidenceOptions,
): Promise<Map<CellKey, CellConvergence>> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const t0 = now();
  const history = new Map<CellKey, TimedObservation[]>(keys.map((k) => [k, []]));
  const done = new Set<CellKey>();
  const baselineOutcome = (k: CellKey) => (ev?.baseline.has(k) ? ev.outcomeOf(ev.baseline.get(k)!) : undefined);
  // Cells whose expectation the old configuration already satisfies: their matches prove nothing by themselves.
  const needs = new Set(ev ? keys.filter((k) => ev.baseline.has(k) && judge(k, ev.baseline.get(k)!) === 'match') : []);
  // Per proxy: the history length (per cell) after which matches count, and how that was shown.
  const proxyEvidence = new Map<string, 'proxy-flipped' | 'proxy-config'>();
  const countedFrom = new Map<CellKey, number>(keys.filter((k) => !needs.has(k)).map((k) => [k, 0]));
  const streak = (k: CellKey) => {
    const h = history.get(k)!;
    const from = countedFrom.get(k);
    if (from === undefined) return 0;
    let n = 0;
    for (let i = h.length - 1; i >= from && h[i]!.judgement === 'match'; i--) n++;
    return n;
  };
  const noObservation = (): Observation => ({
    status: 'error',
    message: 'the probe agent returned no observation for this cell',
    timings: { startedAt: Date.now(), totalMs: 0 },
    attempts: 1,
  });
  const markProxy = (proxy: string, how: 'proxy-flipped' | 'proxy-config') => {
    if (proxyEvidence.has(proxy)) return;
    proxyEvidence.set(proxy, how);
    // Counted from the next round: a probe of this round may have raced the change.
    for (const k of needs) if (ev!.proxyOf(k) === proxy && !countedFrom.has(k)) countedFrom.set(k, history.get(k)!.length);
  };
  for (let round = 0; ; round++) {
    const pending = keys.filter((k) => !done.has(k));
    if (pending.length === 0) break;
    if (round > 0) {
      if (now() - t0 >= o.deadlineMs) break;
      await sleep(o.intervalMs);
    }
    const observed = await probe(pending);
    const at = now() - t0;
    for (const k of pending) {
      const obs = observed.get(k) ?? noObservation();
      history.get(k)!.push({ atMs: at, observation: obs, judgement: judge(k, obs) });
    }
    if (ev) {
      for (const k of pending) {
        const now_ = ev.outcomeOf(history.get(k)!.at(-1)!.observation);
        const before = baselineOutcome(k);
        if (now_ !== undefined && before !== undefined && now_ !== before) markProxy(ev.proxyOf(k), 'proxy-flipped');
      }
      if (ev.configOn) {
        const waiting = [...new Set(pending.filter((k) => needs.has(k) && !countedFrom.has(k)).map((k) => ev.proxyOf(k)))];
        for (const proxy of waiting) if (await ev.configOn(proxy).catch(() => false)) markProxy(proxy, 'proxy-config');
      }
    }
    for (const k of pending) if (streak(k) >= o.successes) done.add(k);
  }
  // Every converged cell once more: a cell that settled on the old configuration before another cell's change
  // revealed the new one must still hold.
  const finalMismatch = new Set<CellKey>();
  const converged = [...done];
  if (converged.length > 0) {
    const observed = await probe(converged);
    const at = now() - t0;
    for (const k of converged) {
      const obs = observed.get(k) ?? noObservation();
      const j = judge(k, obs);
      history.get(k)!.push({ atMs: at, observation: obs, judgement: j });
      if (j !== 'match') finalMismatch.add(k);
    }
  }
  const out = new Map<CellKey, CellConvergence>();
  for (const k of keys) {
    const h = history.get(k)!;
    const from = countedFrom.get(k) ?? h.length;
    const counted = h.slice(from);
    const ok = done.has(k) && !finalMismatch.has(k);
    const runLength = ok ? streak(k) : 0;
    const firstMatch = counted.findIndex((x) => x.judgement === 'match');
    const flapped = firstMatch >= 0 && counted.slice(firstMatch).some((x) => x.judgement !== 'match');
    const evidence: ConfigEvidence = !needs.has(k) ? 'differs-from-baseline' : (proxyEvidence.get(ev!.proxyOf(k)) ?? 'none');
    out.set(k, {
      history: h,
      countedFrom: from,
      evidence,
      finalMismatch: finalMismatch.has(k),
      converged: ok,
      flapped,
      ...(ok ? { enforcedAtMs: h[h.length - runLength]!.atMs } : {}),
    });
  }
  return out;
}
