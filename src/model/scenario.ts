import type { MtlsMode, Policy, SourcePos } from './policy.js';
import type { ChaosSpec } from './chaos.js';

/** Mesh data-plane mode: sidecar proxies, or ambient (ztunnel node proxies and HBONE). */
export type MeshMode = 'sidecar' | 'ambient';
/** What a scenario runs in; `both` runs the same policy set in each mode. */
export type ScenarioMode = MeshMode | 'both';

/** Application protocol declared for a workload port. `http` ports behave differently for non-HTTP bytes (spec R5.4). */
export type PortProtocol = 'tcp' | 'http';

export interface WorkloadPort {
  readonly port: number;
  readonly protocol: PortProtocol;
}

/** A workload (pod) of the scenario: the unit a data plane proxies. */
export interface Workload {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Service account, which names the SPIFFE identity; defaults to the workload name. */
  readonly serviceAccount: string;
  readonly ports: readonly WorkloadPort[];
  readonly source: SourcePos;
}

/** `namespace/name`, the stable workload key used everywhere (cell keys, reports, `expect` entries). */
export type WorkloadKey = string;

/** An outcome an author can state in `expect`: allow, pass the TLS through to the app untouched, or deny. */
export type ExpectedOutcome = 'allow' | 'passthrough' | 'deny';

/** An author's expectation for one workload port (or the workload default when `port` is absent). */
export interface ExpectEntry {
  readonly workload: WorkloadKey;
  readonly port?: number;
  /** Only in this mesh mode (of a `both` scenario); absent: every mode the scenario runs in. */
  readonly meshMode?: MeshMode;
  readonly mode?: MtlsMode;
  /**
   * Per client kind. Shorthands: `plaintext` is the plaintext client of the port's protocol; `mtls` is the mesh's mTLS
   * client of the mode: the Istio mTLS client of the port's protocol in sidecar mode, `hbone` in ambient mode.
   */
  readonly outcomes: Readonly<Record<string, ExpectedOutcome>>;
  readonly source: SourcePos;
}

/** A declarative scenario: workloads, a PeerAuthentication set, and optional author expectations. */
export interface Scenario {
  readonly name: string;
  readonly file: string;
  /** Feature group: `metadata.labels.feature`, else the scenario's folder name. */
  readonly feature: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
  readonly mode: ScenarioMode;
  readonly rootNamespace: string;
  readonly trustDomain: string;
  readonly workloads: readonly Workload[];
  readonly policies: readonly Policy[];
  readonly expect: readonly ExpectEntry[];
  /** Non-fatal findings from loading (for example `selector: {}` without labels). */
  readonly warnings: readonly ScenarioWarning[];
  /** Continuous probing under faults (a chaos scenario); absent for a scenario probed once at rest. */
  readonly chaos?: ChaosSpec;
  readonly source: SourcePos;
}

export interface ScenarioWarning {
  readonly message: string;
  readonly source: SourcePos;
}
