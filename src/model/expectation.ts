import type { DecidingPolicy, MtlsMode } from './policy.js';
import type { ExpectedOutcome, MeshMode, PortProtocol, WorkloadKey } from './scenario.js';
import type { CellKey, ClientKind } from './probe.js';

/** Effective mode of a workload port (or of the workload, `port: null`) with the policies that decided it. */
export interface EffectiveMode {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number | null;
  readonly mode: MtlsMode;
  /** Ordered mesh → namespace → workload → port; empty when no policy applies (hard default PERMISSIVE). */
  readonly decidedBy: readonly DecidingPolicy[];
  /** How the mesh mode bent the written policies, one sentence each (ambient: "DISABLE … treated as PERMISSIVE (R6.5)"). */
  readonly notes?: readonly string[];
}

/** The oracle's expectation for one cell. */
export interface Expectation {
  readonly key: CellKey;
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly client: ClientKind;
  readonly mode: MtlsMode;
  /** Istio's reference outcome: what Envoy (sidecar) or ztunnel (ambient) does. */
  readonly outcome: ExpectedOutcome;
  /** The spec rule behind the reference outcome, e.g. "R5.3 STRICT: TLS without a client certificate fails the handshake". */
  readonly rule: string;
  /**
   * The outcomes PeerAuthentication itself requires (`--claim spec`): always holds `outcome`, and more than one where
   * Istio's answer comes from protocol handling rather than from the policy (Envoy's HTTP codec on HTTP ports, R5.9).
   */
  readonly required: readonly ExpectedOutcome[];
  /** Why `required` is what it is; equals `rule` when the set is Istio's outcome alone. */
  readonly requiredRule: string;
  /**
   * A `deny` counts only after the data plane terminated mTLS with the workload's identity: valid mesh mTLS with
   * non-HTTP bytes to a STRICT or PERMISSIVE sidecar HTTP port, where only the bytes inside may be refused (R5.9).
   */
  readonly denyOnlyAfterTermination?: true;
  readonly decidedBy: readonly DecidingPolicy[];
}

/**
 * What a run's verdicts claim: `spec` (default) — the data plane does what PeerAuthentication requires; `istio` — it
 * also answers every cell exactly as Istio's Envoy or ztunnel does (for vendors claiming Istio compatibility).
 */
export type Claim = 'spec' | 'istio';
export const CLAIMS: readonly Claim[] = ['spec', 'istio'];

/** The outcomes a cell accepts under a claim: the required set (`spec`) or Istio's reference outcome alone (`istio`). */
export function acceptedOutcomes(exp: Pick<Expectation, 'outcome' | 'required'>, claim: Claim): readonly ExpectedOutcome[] {
  return claim === 'istio' ? [exp.outcome] : exp.required;
}

/** An author's `expect` entry that contradicts the oracle: a scenario error, not a mesh failure. */
export interface LintFinding {
  readonly scenario: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}
