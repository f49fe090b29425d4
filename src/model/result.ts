import type { DecidingPolicy, MtlsMode } from './policy.js';
import type { ExpectedOutcome, MeshMode, PortProtocol, ScenarioWarning, WorkloadKey } from './scenario.js';
import type { CellKey, ClientKind, DenialKind, Observation } from './probe.js';
import type { Claim, LintFinding } from './expectation.js';

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
  /**
   * `outcome`/`rule`: Istio's reference outcome; `required`/`requiredRule`: what PeerAuthentication requires (absent in
   * reports written before claims existed, which judged Istio's outcome alone).
   */
  readonly expected: {
    readonly mode: MtlsMode;
    readonly outcome: ExpectedOutcome;
    readonly rule: string;
    readonly required?: readonly ExpectedOutcome[];
    readonly requiredRule?: string;
  };
  /** A pass (or flaky) under `--claim spec` whose observed outcome is not Istio's reference outcome. */
  readonly differsFromIstio?: true;
  /** Absent when the cell was skipped. */
  readonly observed?: Observation;
  /** A flaky cell's first attempt (what did not match), beside the later one it passed on. */
  readonly firstAttempt?: Observation;
  /** Outcome class of the observation (absent on error/skipped). */
  readonly observedOutcome?: ExpectedOutcome;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, in one sentence (mismatch text, error text, skip reason). */
  readonly reason: string;
  readonly decidedBy: readonly DecidingPolicy[];
  /** The data plane's side of a failing, flaky or error cell (absent on passes and skips, and where none was kept). */
  readonly evidence?: CellEvidence;
}

/** One line a data plane wrote, with when the harness read it (epoch ms). */
export interface LogLine {
  readonly atMs: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/**
 * A piece of evidence kept whole for the report (a data plane's log, a proxy's state as the mesh shows it): redacted,
 * size-bounded, written beside the report as `evidence/<id>.<ext>` and referenced by id from the cells it explains.
 */
export interface Attachment {
  /** Unique in the run; `[a-z0-9-]+`, the file name's stem. */
  readonly id: string;
  readonly label: string;
  readonly workload?: WorkloadKey;
  readonly mediaType: 'text/plain' | 'application/json';
  readonly text: string;
  /** Set when the text was cut to its bound (the last bytes kept for logs, the first for state). */
  readonly truncated?: boolean;
}

/** What the data plane under test did around one probe: the proxy's side of the story. */
export interface CellEvidence {
  /** Its log lines within the probe's time window (from just before the probe to a second after its end), bounded. */
  readonly logs?: { readonly source: string; readonly lines: readonly LogLine[]; readonly truncated?: boolean };
  /** The configuration it held when the probe ran (after any reload), redacted and bounded. */
  readonly config?: { readonly source: string; readonly text: string; readonly truncated?: boolean };
  /** Ids of the scenario's attachments that tell more (the whole log, the proxy's state). */
  readonly attachments?: readonly string[];
}

export interface Summary {
  readonly cells: number;
  readonly passed: number;
  readonly failed: number;
  readonly flaky: number;
  readonly errors: number;
  readonly skipped: number;
  /** Passed or flaky cells whose outcome is conformant but not Istio's reference one (present when > 0). */
  readonly differsFromIstio?: number;
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
  /** Where `durationMs` went (static runs that deployed): start of the environment, probing, evidence, stop. */
  readonly phases?: ScenarioPhases;
  readonly cells: readonly CellResult[];
  /** Policies as given, for reports that show them. */
  readonly policies: readonly unknown[];
  /** What happened over time (chaos runs only; absent for a plain run). Reports draw it as a timeline chart. */
  readonly timeline?: ScenarioTimeline;
  /** Evidence kept whole, referenced by its cells' `evidence.attachments`. */
  readonly attachments?: readonly Attachment[];
}

/** Milliseconds of each phase of one scenario run. */
export interface ScenarioPhases {
  readonly deployMs: number;
  readonly probeMs: number;
  readonly evidenceMs: number;
  readonly stopMs: number;
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
  /** Seed the fault schedule was generated from (chaos runs; `--seed` replays it). */
  readonly seed?: number;
  /** Each probed cell was probed once per this interval. */
  readonly probeIntervalMs?: number;
  /** Time to enforce per policy change and workload port (chaos runs). */
  readonly enforcement?: readonly EnforcementMeasure[];
  /** p50/p95 of `enforcement`, per port and per fault. */
  readonly timeToEnforceStats?: TimeToEnforceStats;
  /** The invariants checked over the whole timeline (chaos runs). */
  readonly invariants?: readonly InvariantResult[];
  /** How much probing the timeline holds, and the ticks that could not fire (a cell's previous probe still running). */
  readonly probing?: ProbingStats;
}

export interface TimelineFault {
  readonly name: string;
  readonly startMs: number;
  /** Absent while the fault was still active at the end of the scenario. */
  readonly endMs?: number;
  /** Fault kind (chaos runs), e.g. `kill`, `policy-change`, `latency`. */
  readonly kind?: string;
  readonly workload?: WorkloadKey;
  readonly port?: number;
  /** The proof that the fault took effect; a failed canary makes the scenario an error, never a pass. */
  readonly canary?: CanaryResult;
  /** Milliseconds from the fault's end until every probe of its workload matched again (restarts, network faults). */
  readonly recoveryMs?: number;
}

/** A fault's canary: every check that proves (or failed to prove) the fault landed. */
export interface CanaryResult {
  readonly ok: boolean;
  readonly checks: readonly CanaryCheck[];
}

export interface CanaryCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was seen (a pid, a serial number, a measured delay). */
  readonly detail: string;
  readonly atMs?: number;
}

/** How one chaos probe was judged against what the policies (and the fault in force) allowed at that moment. */
export type ProbeJudgement =
  /** Matched the expectation in force. */
  | 'match'
  /** Matched the previous policy inside the time-to-enforce bound after a change. */
  | 'transition'
  /** An allowed path unavailable while a fault on its workload (or the recovery after it) was in force. */
  | 'tolerated'
  /** A port enforcing mTLS accepted plaintext, no client certificate or a bad certificate. */
  | 'fail-open'
  /** An allowed path denied outside fault windows (counts against availability). */
  | 'unavailable'
  /** Any other disagreement with the expectation. */
  | 'mismatch'
  /** The probe could not run: no evidence either way. */
  | 'error';

/** Time to enforce one policy change on one workload port. */
export interface EnforcementMeasure {
  /** The change (a fault name: `policy-change to strict`, `distribution resumed on foo/a`). */
  readonly change: string;
  readonly atMs: number;
  readonly workload: WorkloadKey;
  readonly port: number;
  /** Absent: the port never matched the new policy for good before the next change or the end. */
  readonly timeToEnforceMs?: number;
  readonly boundMs: number;
  readonly ok: boolean;
}

export interface PercentileFigure {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface TimeToEnforceStats {
  readonly perPort: readonly (PercentileFigure & { readonly workload: WorkloadKey; readonly port: number })[];
  readonly perFault: readonly (PercentileFigure & { readonly change: string })[];
  readonly overall?: PercentileFigure;
}

export type InvariantName = 'no-fail-open' | 'time-to-enforce' | 'availability' | 'recovery';

export interface InvariantResult {
  readonly name: InvariantName;
  readonly ok: boolean;
  /** The figure checked (availability as a share, times in ms); absent when nothing was measured. */
  readonly value?: number;
  readonly bound?: number;
  /** One line per violation: the cell and the time window. */
  readonly violations: readonly string[];
}

export interface ProbingStats {
  readonly probes: number;
  readonly perSecond: number;
  /** Ticks skipped because the cell had several probes still running (a blackhole holds probes until their deadline). */
  readonly skippedBusy: number;
  /** Ticks skipped because `--concurrency` probes were already in flight. */
  readonly skippedSaturated: number;
  /** Of `probes`, those fired by focus ticks after a transition (chaos FOCUS_MS); absent in reports before it. */
  readonly focused?: number;
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
  /** How it was denied (a refused connect is observed `error`: nothing listened). */
  readonly how?: DenialKind;
  readonly durationMs?: number;
  /** Chaos runs: the judgement against what was allowed at that moment. */
  readonly judged?: ProbeJudgement;
  /** Why, for anything but a plain match (the mismatch, the fault that tolerated it). */
  readonly detail?: string;
}

/** One mode's side of a sidecar-versus-ambient cell pair. */
export interface ModeSide {
  readonly key: CellKey;
  readonly mode: MtlsMode;
  readonly expected: ExpectedOutcome;
  /** Absent when the cell erred or was skipped. */
  readonly observed?: ExpectedOutcome;
  readonly verdict: Verdict;
  /** Why the oracle expects what it does in this mode (the spec rule). */
  readonly rule: string;
}

/** One cell (workload, port, client kind) of a `mode: both` scenario whose two modes differ. */
export interface ModeDifference {
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly client: ClientKind;
  /** The oracle expects different outcomes in the two modes. */
  readonly expectedDiffers: boolean;
  /** Both cells were observed and the outcomes differ. */
  readonly observedDiffers: boolean;
  readonly sidecar: ModeSide;
  readonly ambient: ModeSide;
}

/** Differential run of one `mode: both` scenario: the same policy set in sidecar and in ambient mode, cell by cell. */
export interface ModeDifferential {
  readonly scenario: string;
  readonly file: string;
  /** Cells present in both modes (the direct client kinds at every workload port). */
  readonly compared: number;
  readonly expectedDifferences: number;
  readonly observedDifferences: number;
  /** The pairs that differ, expected or observed, in workload, port, client order. */
  readonly differences: readonly ModeDifference[];
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
  /** What the verdicts claim: PeerAuthentication's required outcomes (`spec`) or Istio's reference ones (`istio`). */
  readonly claim: Claim;
  readonly environment: {
    readonly backend: string;
    readonly dataPlane: string;
    readonly node: string;
    readonly platform: string;
    /** Backend choices a rerun needs to reproduce the run, including any picked at random (e.g. the loopback subnet). */
    readonly details?: Readonly<Record<string, string>>;
  };
  readonly options: {
    /** Extra attempts per cell, on backends whose cells settle by retries. */
    readonly retries?: number;
    /** How a cell settled in this run: by retries, or by N-in-a-row convergence (kind, cluster). */
    readonly settle?: string;
    readonly concurrency: number;
    readonly timeoutMs: number;
    readonly grep?: string;
    readonly paths: readonly string[];
    /**
     * The `run` flags that decide what ran and how (backend, data plane, claim, defects, seed, retries, kube settings…),
     * by long name without dashes (`data-plane`), defaults included: what a reproduction or `--rerun-failed` repeats.
     */
    readonly flags?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  };
  readonly summary: Summary;
  /** Scenario lint findings in total (author expectations contradicting the oracle). */
  readonly lintErrors: number;
  readonly scenarios: readonly ScenarioResult[];
  /** Sidecar versus ambient, cell by cell, for every `mode: both` scenario that ran in both modes. */
  readonly differentials?: readonly ModeDifferential[];
  /**
   * Set when SIGINT or SIGTERM stopped the run: scenarios not finished by then are errors, those never started are
   * absent, and `latest` was not pointed at this run.
   */
  readonly interrupted?: { readonly signal: 'SIGINT' | 'SIGTERM'; readonly at: string };
}
