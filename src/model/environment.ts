import type { MeshMode, Scenario, WorkloadKey } from './scenario.js';
import type { MtlsMode, PeerAuthenticationManifest } from './policy.js';
import type { AppReceipt, ClientKind } from './probe.js';
import type { ChaosCapability, EnvironmentChaos } from './chaos-controls.js';

/** Cells a data plane cannot express: they are reported `skipped` with the reason instead of being probed. */
export interface Inexpressible {
  readonly client: ClientKind;
  /** Effective modes the limit applies to; all modes when absent. */
  readonly modes?: readonly MtlsMode[];
  readonly reason: string;
}

/**
 * Optional parts of the data-plane contract (README, "The data-plane contract"): `clock-offset` honours
 * `MESHCONFORM_CLOCK_OFFSET_MS`; `tls-reload` and `policy-reload` apply new certificates / policies on `SIGHUP`;
 * `multi-workload` serves several workloads from `MESHCONFORM_WORKLOAD_CONFIGS`.
 */
export const DATA_PLANE_CAPABILITIES = ['clock-offset', 'tls-reload', 'policy-reload', 'multi-workload'] as const;
export type DataPlaneCapability = (typeof DATA_PLANE_CAPABILITIES)[number];

/** How to start a data plane: argv of a command run once per workload under the data-plane contract. */
export interface DataPlaneSpec {
  /** Name shown in reports: `reference`, or `exec:<command>`. */
  readonly name: string;
  readonly argv: readonly string[];
  /** Workloads served by one process (>1 only for data planes that read `MESHCONFORM_WORKLOAD_CONFIGS`). */
  readonly workloadsPerProcess: number;
  /**
   * Extra environment for every data-plane process, on top of the contract's variables (which win). The reference
   * data plane always gets `MESHCONFORM_DEFECTS` here, so only `--defect` plants defects, never an inherited variable.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** What this data plane cannot express (a third-party proxy without some Istio feature). */
  readonly inexpressible?: readonly Inexpressible[];
  /** Optional contract parts it implements; none when absent (what the contract requires, nothing more). */
  readonly capabilities?: readonly DataPlaneCapability[];
  /** Mesh modes this data plane implements; `['sidecar']` when absent. */
  readonly meshModes?: readonly MeshMode[];
  /**
   * The data plane that runs the scenarios of the mesh modes this one does not implement (`reference` pairs the
   * reference sidecar with the reference ambient proxy). Without one, such scenarios are skipped with the reason.
   */
  readonly companion?: DataPlaneSpec;
}

/** TLS material a backend installs for one workload. */
export interface WorkloadTls {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly spiffeId: string;
}

export interface EnvironmentOptions {
  readonly runId: string;
  readonly scenario: Scenario;
  readonly meshMode: MeshMode;
  readonly dataPlane: DataPlaneSpec;
  /** argv that starts the echo application (reads `MESHCONFORM_ECHO_CONFIG`). */
  readonly echoArgv: readonly string[];
  readonly identities: ReadonlyMap<WorkloadKey, WorkloadTls>;
  /** The echo application's own (non-mesh) server certificate, used when it answers TLS itself. */
  readonly appTls: { readonly certPem: string; readonly keyPem: string };
  readonly readyTimeoutMs: number;
  /** Aborted on SIGINT/SIGTERM: a start in progress removes what it created and rejects. */
  readonly signal?: AbortSignal;
}

/** Where the probes reach one workload. */
export interface WorkloadTarget {
  readonly address: string;
  /** workload port → port to connect to (equal on backends where workloads have their own address). */
  readonly ports: ReadonlyMap<number, number>;
}

/** A running environment for one scenario. `stop()` is idempotent and removes everything `start` created. */
export interface Environment {
  readonly targets: ReadonlyMap<WorkloadKey, WorkloadTarget>;
  /** Replace the policy set: config files replaced atomically, then SIGHUP (the data-plane contract). */
  applyPolicies(policies: readonly PeerAuthenticationManifest[]): Promise<void>;
  /** Problems that make observations untrustworthy (a data-plane process that died); empty when healthy. */
  health(): readonly string[];
  /**
   * Every receipt the echo applications recorded so far (the probe payloads that reached them). Absent on backends
   * without the channel; a receipt lost or unreadable only removes evidence, it never makes a cell pass.
   */
  receipts?(): Promise<readonly AppReceipt[]>;
  /** Chaos controls, on backends that have them (chaos scenarios need them). */
  readonly chaos?: EnvironmentChaos;
  stop(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  /** Choices made for this run (addresses, network), recorded in the report so a rerun can reproduce them. */
  readonly details?: Readonly<Record<string, string>>;
  /**
   * Chaos faults its environments can take (`Environment.chaos.capabilities` of every environment it starts); known
   * before anything starts, so a scenario asking for more is refused up front. Absent: no chaos controls at all.
   */
  readonly chaosCapabilities?: readonly ChaosCapability[];
  start(options: EnvironmentOptions): Promise<Environment>;
}
