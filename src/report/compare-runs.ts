import type { CellResult, Claim, ClientKind, MeshMode, RunResult, Summary, Verdict, WorkloadKey } from '../model/index.js';

/** A cell as it appears in a comparison. */
export interface ComparedCell {
  readonly key: string;
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly feature: string;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly client: ClientKind;
}

/** A cell in both runs whose verdict changed. */
export interface VerdictChange extends ComparedCell {
  readonly before: Verdict;
  readonly after: Verdict;
  /** The newer run's reason for its verdict. */
  readonly reason: string;
}

/** A cell in only one of the runs. */
export interface LoneCell extends ComparedCell {
  readonly verdict: Verdict;
}

export interface TimeToEnforceChange {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly beforeMs: number;
  readonly afterMs: number;
  readonly deltaMs: number;
}

export interface ComparedRun {
  readonly runId: string;
  readonly startedAt: string;
  readonly dataPlane: string;
  readonly harnessVersion: string;
  /** What its verdicts claim (`--claim`). */
  readonly claim: Claim;
  readonly summary: Summary;
}

/** Night-to-night differences, cell by cell (cells matched by their stable key). */
export interface RunComparison {
  readonly before: ComparedRun;
  readonly after: ComparedRun;
  /** Passed (or flaky) before, fail or error now. Any regression makes `meshconform compare` exit 1. */
  readonly regressions: readonly VerdictChange[];
  /** Failed or errored before, pass or flaky now. */
  readonly fixes: readonly VerdictChange[];
  /** Any other verdict change: pass ↔ flaky, fail ↔ error, to or from skipped. */
  readonly otherChanges: readonly VerdictChange[];
  readonly added: readonly LoneCell[];
  readonly removed: readonly LoneCell[];
  /** Scenarios whose time-to-enforce figure (chaos timelines) differs; compared only where both runs have one. */
  readonly timeToEnforce: readonly TimeToEnforceChange[];
  readonly unchanged: number;
  /**
   * Set when the runs were judged under different claims (`--claim spec` vs `istio`): their verdicts answer different
   * questions, so the newer run is a new baseline and no cell is compared (every list above is empty).
   */
  readonly newBaseline?: string;
}

const GOOD: ReadonlySet<Verdict> = new Set(['pass', 'flaky']);
const BAD: ReadonlySet<Verdict> = new Set(['fail', 'error']);

const ref = (c: CellResult): ComparedCell => ({
  key: c.key,
  scenario: c.scenario,
  meshMode: c.meshMode,
  feature: c.feature,
  workload: c.workload,
  port: c.port,
  client: c.client,
});

const runInfo = (r: RunResult): ComparedRun => ({
  runId: r.runId,
  startedAt: r.startedAt,
  dataPlane: r.environment.dataPlane,
  harnessVersion: r.harness.version,
  claim: r.claim,
  summary: r.summary,
});

function cellsByKey(r: RunResult): Map<string, CellResult> {
  return new Map(r.scenarios.flatMap((s) => s.cells).map((c) => [c.key, c]));
}

/** Compares two runs (`before` is the older, typically last night's). Lists keep the newer run's cell order. */
export function compareRuns(before: RunResult, after: RunResult): RunComparison {
  if (before.claim !== after.claim) {
    return {
      before: runInfo(before),
      after: runInfo(after),
      regressions: [],
      fixes: [],
      otherChanges: [],
      added: [],
      removed: [],
      timeToEnforce: [],
      unchanged: 0,
      newBaseline: `the claim changed from --claim ${before.claim} to --claim ${after.claim}: the newer run is a new baseline, its cells are not compared`,
    };
  }
  const old = cellsByKey(before);
  const now = cellsByKey(after);
  const regressions: VerdictChange[] = [];
  const fixes: VerdictChange[] = [];
  const otherChanges: VerdictChange[] = [];
  const added: LoneCell[] = [];
  let unchanged = 0;
  for (const c of now.values()) {
    const o = old.get(c.key);
    if (!o) {
      added.push({ ...ref(c), verdict: c.verdict });
      continue;
    }
    if (o.verdict === c.verdict) {
      unchanged++;
      continue;
    }
    const change: VerdictChange = { ...ref(c), before: o.verdict, after: c.verdict, reason: c.reason };
    if (GOOD.has(o.verdict) && BAD.has(c.verdict)) regressions.push(change);
    else if (BAD.has(o.verdict) && GOOD.has(c.verdict)) fixes.push(change);
    else otherChanges.push(change);
  }
  const removed = [...old.values()].filter((c) => !now.has(c.key)).map((c): LoneCell => ({ ...ref(c), verdict: c.verdict }));

  const tteBefore = new Map(before.scenarios.map((s) => [`${s.name}\u0000${s.meshMode}`, s.timeline?.timeToEnforceMs]));
  const timeToEnforce: TimeToEnforceChange[] = [];
  for (const s of after.scenarios) {
    const b = tteBefore.get(`${s.name}\u0000${s.meshMode}`);
    const a = s.timeline?.timeToEnforceMs;
    if (a === undefined || b === undefined || a === b) continue;
    timeToEnforce.push({ scenario: s.name, meshMode: s.meshMode, beforeMs: b, afterMs: a, deltaMs: a - b });
  }
  return { before: runInfo(before), after: runInfo(after), regressions, fixes, otherChanges, added, removed, timeToEnforce, unchanged };
}
