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
  readonly outcome: ExpectedOutcome;
  /** The spec rule behind the outcome, e.g. "R5.3 STRICT: TLS without a client certificate fails the handshake". */
  readonly rule: string;
  readonly decidedBy: readonly DecidingPolicy[];
}

/** An author's `expect` entry that contradicts the oracle: a scenario error, not a mesh failure. */
export interface LintFinding {
  readonly scenario: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}
