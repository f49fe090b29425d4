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

export interface CellConvergence {
  readonly history: readonly TimedObservation[];
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
 * matching results in a row, or the deadline passes. Converged cells are not probed again.
 */
export async function converge(
  keys: readonly CellKey[],
  probe: (keys: readonly CellKey[]) => Promise<ReadonlyMap<CellKey, Observation>>,
  judge: (key: CellKey, observation: Observation) => Judgement,
  o: ConvergenceOptions,
): Promise<Map<CellKey, CellConvergence>> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const t0 = now();
  const history = new Map<CellKey, TimedObservation[]>(keys.map((k) => [k, []]));
  const done = new Set<CellKey>();
  const streak = (h: readonly TimedObservation[]) => {
    let n = 0;
    for (let i = h.length - 1; i >= 0 && h[i]!.judgement === 'match'; i--) n++;
    return n;
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
      const obs: Observation = observed.get(k) ?? {
        status: 'error',
        message: 'the probe agent returned no observation for this cell',
        timings: { startedAt: Date.now(), totalMs: 0 },
        attempts: 1,
      };
      const h = history.get(k)!;
      h.push({ atMs: at, observation: obs, judgement: judge(k, obs) });
      if (streak(h) >= o.successes) done.add(k);
    }
  }
  const out = new Map<CellKey, CellConvergence>();
  for (const k of keys) {
    const h = history.get(k)!;
    const firstMatch = h.findIndex((x) => x.judgement === 'match');
    const runStart = h.length - streak(h);
    const flapped = firstMatch >= 0 && h.slice(firstMatch).some((x) => x.judgement !== 'match');
    const converged = done.has(k);
    out.set(k, { history: h, converged, flapped, ...(converged ? { enforcedAtMs: h[runStart]!.atMs } : {}) });
  }
  return out;
}
