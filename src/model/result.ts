import type { DecidingPolicy, MtlsMode } from './policy.js';
import type { ExpectedOutcome, MeshMode, PortProtocol, ScenarioWarning, WorkloadKey } from './scenario.js';
import type { CellKey, ClientKind, Observation } from './probe.js';
import type { LintFinding } from './expectation.js';

export type Verdict = 'pass' | 'fail' | 'flaky' | 'error' | 'skipped';

/** One compared cell: expected vs observed. */
export interface CellResult {
  readonly key: CellKey;
  readonly scenario: string;
  readonly feature: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly client: ClientKind;
  readonly expected: { readonly mode: MtlsMode; readonly outcome: ExpectedOutcome; readonly rule: string };
  /** Absent when the cell was skipped. */
  readonly observed?: Observation;
  /** Outcome class of the observation (absent on error/skipped). */
  readonly observedOutcome?: ExpectedOutcome;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, in one sentence (mismatch text, error text, skip reason). */
  readonly reason: string;
  readonly decidedBy: readonly DecidingPolicy[];
}

export interface Summary {
  readonly cells: number;
  readonly passed: number;
  readonly failed: number;
  readonly flaky: number;
  readonly errors: number;
  readonly skipped: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly file: string;
  readonly feature: string;
  readonly meshMode: MeshMode;
  readonly description: string;
  readonly summary: Summary;
  readonly lint: readonly LintFinding[];
  readonly warnings: readonly ScenarioWarning[];
  /** A harness error that prevented the scenario from running (its cells are then `error`). */
  readonly error?: string;
  /** Why the whole scenario was skipped (a capability this run does not have). */
  readonly skipped?: string;
  readonly durationMs: number;
  readonly cells: readonly CellResult[];
  /** Policies as given, for reports that show them. */
  readonly policies: readonly unknown[];
  /** What happened over time (chaos runs only; absent for a plain run). Reports draw it as a timeline chart. */
  readonly timeline?: ScenarioTimeline;
}

/**
 * A scenario observed over time: probes fired repeatedly while faults were injected and policies changed.
 * Every `atMs`/`startMs`/`endMs` is milliseconds after `startedAt`.
 */
export interface ScenarioTimeline {
  /** Epoch milliseconds of t = 0. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** Injected faults, drawn as bands (for example "kill data plane of foo/finance", "drop 30% of packets"). */
  readonly faults: readonly TimelineFault[];
  /** Policy changes and other marks, drawn as vertical lines. */
  readonly events: readonly TimelineEvent[];
  /** Every probe fired during the scenario, in time order. */
  readonly probes: readonly TimelineProbe[];
  /**
   * Milliseconds from the last policy change until every probe matched the new expectation and kept matching;
   * absent when the scenario changed no policy or never converged. `meshconform compare` reports changes of it.
   */
  readonly timeToEnforceMs?: number;
}

export interface TimelineFault {
  readonly name: string;
  readonly startMs: number;
  /** Absent while the fault was still active at the end of the scenario. */
  readonly endMs?: number;
}

export interface TimelineEvent {
  readonly atMs: number;
  readonly label: string;
}

/** One probe of the timeline. A `deny` expected and `allow`/`passthrough` observed is a fail-open moment. */
export interface TimelineProbe {
  readonly atMs: number;
  /** The cell probed (same key as in `cells`). */
  readonly key: CellKey;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly client: ClientKind;
  readonly expected: ExpectedOutcome;
  /** `error`: the probe could not run (never a denial). */
  readonly observed: ExpectedOutcome | 'error';
}

export const RUN_RESULT_API_VERSION = 'meshconform.dev/v1alpha1';

/** The whole run: what every reporter is a function of. */
export interface RunResult {
  readonly apiVersion: typeof RUN_RESULT_API_VERSION;
  readonly kind: 'RunResult';
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly harness: { readonly name: 'meshconform'; readonly version: string };
  readonly environment: {
    readonly backend: string;
    readonly dataPlane: string;
    readonly node: string;
    readonly platform: string;
    /** Backend choices a rerun needs to reproduce the run, including any picked at random (e.g. the loopback subnet). */
    readonly details?: Readonly<Record<string, string>>;
  };
  readonly options: { readonly retries: number; readonly concurrency: number; readonly timeoutMs: number; readonly grep?: string; readonly paths: readonly string[] };
  readonly summary: Summary;
  /** Scenario lint findings in total (author expectations contradicting the oracle). */
  readonly lintErrors: number;
  readonly scenarios: readonly ScenarioResult[];
}
