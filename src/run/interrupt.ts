import type { CellResult, RunResult, ScenarioResult } from '../model/index.js';
import { modeDifferentials, summarize } from '../diff/index.js';

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/** The signal that interrupted the run, if any. */
export function interruptedBy(signal: AbortSignal | undefined): InterruptSignal | undefined {
  if (!signal?.aborted) return undefined;
  return signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
}

/** Resolves when `signal` aborts (never when it is undefined); for racing work that must not outlive an interrupt. */
export function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export const interruptedReason = (by: InterruptSignal): string =>
  `run interrupted (${by}) before this cell was judged: what was observed while the run was being stopped proves nothing`;

/** The cell as an `error`: its observations stay as evidence, the verdict goes. */
export function interruptedCell(c: CellResult, by: InterruptSignal): CellResult {
  if (c.verdict === 'skipped' || c.verdict === 'error') return c;
  const { observedOutcome: _o, differsFromIstio: _d, ...rest } = c;
  return { ...rest, verdict: 'error', reason: interruptedReason(by) };
}

/**
 * The result of an interrupted run: `interrupted` set, and every scenario that had not finished when the interrupt came
 * (not in `finishedBefore`) turned into errors, whatever its suite judged afterwards. Scenarios never started are
 * absent. Works the same for every backend and for chaos, since it needs only the suite's onScenarioEnd hook.
 */
export function markInterrupted(result: RunResult, by: InterruptSignal, at: Date, finishedBefore: ReadonlySet<string>): RunResult {
  const scenarios: ScenarioResult[] = result.scenarios.map((s) => {
    if (finishedBefore.has(scenarioKey(s))) return s;
    const cells = s.cells.map((c) => interruptedCell(c, by));
    return { ...s, cells, summary: summarize(cells) };
  });
  const { differentials: _old, ...rest } = result;
  const differentials = modeDifferentials(scenarios);
  return {
    ...rest,
    interrupted: { signal: by, at: at.toISOString() },
    scenarios,
    summary: summarize(scenarios.flatMap((s) => s.cells)),
    ...(differentials.length > 0 ? { differentials } : {}),
  };
}

export const scenarioKey = (s: Pick<ScenarioResult, 'name' | 'meshMode'>): string => `${s.name}\u0000${s.meshMode}`;

/**
 * Tracks which scenarios finished before the interrupt (call `ended` from onScenarioEnd), and the moment it came.
 * `finish` returns the result to report: unchanged for a run that was not interrupted.
 */
export function interruptTracker(signal: AbortSignal): { ended(s: ScenarioResult): void; finish(r: RunResult): RunResult } {
  const finished = new Set<string>();
  let at: Date | undefined;
  signal.addEventListener('abort', () => (at = new Date()), { once: true });
  if (signal.aborted) at = new Date();
  return {
    ended(s) {
      if (!signal.aborted) finished.add(scenarioKey(s));
    },
    finish(r) {
      const by = interruptedBy(signal);
      return by ? markInterrupted(r, by, at ?? new Date(), finished) : r;
    },
  };
}
