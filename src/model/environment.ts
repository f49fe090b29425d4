import type { MeshMode, Scenario, WorkloadKey } from './scenario.js';
import type { MtlsMode, PeerAuthenticationManifest } from './policy.js';
import type { AppReceipt, CellKey, ClientKind, Observation, ProbeJob } from './probe.js';
import type { Attachment, CellEvidence } from './result.js';
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
/**
 * `reuse`: after a SIGHUP it serves whatever its config file now holds (other workloads, addresses and ports), so the
 * harness may hand the same process the next scenario instead of starting a new one.
 */
export const DATA_PLANE_CAPABILITIES = ['clock-offset', 'tls-reload', 'policy-reload', 'multi-workload', 'reuse'] as const;
export type DataPlaneCapability = (typeof DATA_PLANE_CAPABILITIES)[number];

/** How to start a data plane: argv of a command run once per workload under the data-plane contract. */
export interface DataPlaneSpec {
  /** Name shown in reports: `reference`, or `exec:<command>`. */
  readonly name: string;
  readonly argv: readonly string[];
  /** Workloads served by one process (>1 only for data planes that read `MESHCONFORM_WORKLOAD_CONFIGS`). */
  readonly workloadsPerProcess: number;
  /**
   * Where the harness reuses its processes (static scenarios on the local backend), one process serves every workload of
   * a scenario instead (up to PACKED_WORKLOADS_LIMIT). Set when `--workloads-per-process` is not given and the data plane
   * declares `multi-workload` and `reuse`.
   */
  readonly packWorkloads?: boolean;
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
  /**
   * The environment may serve its workloads from processes of an earlier scenario (reloaded through the contract)
   * and leave them for a later one, where the backend and the data plane (capability `reuse`) can. Static scenarios
   * only: chaos kills, restarts and skews its processes.
   */
  readonly reuse?: boolean;
}

/** Where the probes reach one workload. */
export interface WorkloadTarget {
  readonly address: string;
  /** workload port → port to connect to (equal on backends where workloads have their own address). */
  readonly ports: ReadonlyMap<number, number>;
}

/** Which layer refused an apply: the API server's CRD validation rules (422 Invalid) or an admission webhook. */
export type AdmissionLayer = 'crd-validation' | 'webhook';
/** What an apply did: nothing to report (undefined), or a refusal by the mesh's admission. */
export type ApplyResult = { readonly kind: 'applied' } | { readonly kind: 'rejected'; readonly layer: AdmissionLayer; readonly message: string };

/** A running environment for one scenario. `stop()` is idempotent and removes everything `deploy` created. */
export interface Environment {
  readonly targets: ReadonlyMap<WorkloadKey, WorkloadTarget>;
  /**
   * Replace the policy set: config files replaced atomically, then SIGHUP (the data-plane contract), or `kubectl
   * apply` on Kubernetes, where the mesh's admission may refuse it.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a host data plane's reload has no answer; only a mesh's admission gives one
  applyPolicies(policies: readonly PeerAuthenticationManifest[]): Promise<ApplyResult | void>;
  /** Problems that make observations untrustworthy (a data-plane process that died); empty when healthy. */
  health(): readonly string[];
  /**
   * Every receipt the echo applications recorded so far (the probe payloads that reached them). Absent on backends
   * without the channel; a receipt lost or unreadable only removes evidence, it never makes a cell pass.
   */
  receipts?(): Promise<readonly AppReceipt[]>;
  /**
   * Whether the mesh's own view of a workload's proxy shows the new configuration (each port in `modes`); absent
   * where the harness starts the data plane itself with the configuration in place.
   */
  configEvidence?(workload: WorkloadKey, modes: ReadonlyMap<number, MtlsMode>): Promise<boolean>;
  /** Chaos controls, on backends that have them (chaos scenarios need them). */
  readonly chaos?: EnvironmentChaos;
  /**
   * The data plane's side of some cells (failing, flaky, error), asked for before the environment stops: per cell its
   * log lines in the window and the configuration in force, plus attachments (whole logs, proxy state). Absent on a
   * backend without the channel; evidence that cannot be read is left out, never a harness error.
   */
  evidence?(requests: readonly EvidenceRequest[], options?: EvidenceOptions): Promise<EnvironmentEvidence>;
  stop(): Promise<void>;
}

/** A cell whose evidence the pipeline wants, with its probe's time window (epoch ms). */
export interface EvidenceRequest {
  readonly key: CellKey;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface EvidenceOptions {
  /** Also every data plane's whole log, asked about or not: a run keeps them all beside its report. */
  readonly everyLog?: boolean;
}

export interface EnvironmentEvidence {
  readonly cells: ReadonlyMap<CellKey, CellEvidence>;
  readonly attachments: readonly Attachment[];
}

/** Fires probe jobs and returns one observation per job key (a job without one observed nothing). */
export interface Prober {
  /** The client credentials it holds; absent: all of them. A cell whose client needs another is skipped with the reason. */
  readonly credentials?: readonly ProbeCredential[];
  probe(jobs: readonly ProbeJob[]): Promise<ReadonlyMap<string, Observation>>;
}

/**
 * How the cells of a backend settle: `retries` (the data plane starts with its policies in place; a cell that did not
 * match is probed again) or `convergence` (workloads come up first, the policies are applied, and every cell must show
 * the same matching result N times in a row).
 */
export type SettleKind = 'retries' | 'convergence';

/**
 * Teardowns a component owns as a group: each one also reaches the run's interrupt drain. Injected into backends,
 * which cannot import the run's lifecycle.
 */
export interface CleanupScope {
  /** Registers a clean-up before what it removes exists; the returned function runs it now (once). */
  own(label: string, fn: () => Promise<void>): () => Promise<void>;
  /** Runs every clean-up still owned, newest first; one error names those that failed. */
  close(): Promise<void>;
  /** True once the run is being torn down from outside (a signal): no step creates anything after that. */
  interrupted(): boolean;
}

/** The PKI of the run's trust domain, as a backend session sees it. */
export interface SessionPki {
  readonly trustDomain: string;
  /** The mesh CA's certificate, and a writer of Istio's plug-in CA files (kind installs Istio with them). */
  readonly meshCaPem: string;
  writeCaFiles(dir: { readonly path: string }): Promise<{ caCertFile: string; caKeyFile: string; rootCertFile: string; certChainFile: string }>;
  appIdentity(): { readonly certPem: string; readonly keyPem: string };
  /** The probe clients' credentials (the agent's material on Kubernetes). */
  probeMaterial(): ProbeMaterial;
  /** The trust domain of the `other-trust-domain` clients, and the identity the probe clients present. */
  readonly otherTrustDomain: string;
  readonly probeIdentity: { readonly namespace: string; readonly serviceAccount: string };
}

/** What the probe clients present: the mesh bundle, the app CA, and one credential per client kind. */
export interface ProbeMaterial {
  readonly meshCaPem?: string;
  readonly appCaPem: string;
  readonly clients: Partial<Record<ProbeCredential, { readonly certPem: string; readonly keyPem: string }>>;
}
export type ProbeCredential = 'mesh' | 'foreignCa' | 'expired' | 'otherTrustDomain';

export interface SessionOptions {
  readonly runId: string;
  /** The run's one trust domain, on backends with `meshTrustDomain` (one mesh, one trust domain). */
  readonly trustDomain?: string;
  /** The run's PKI: one per trust domain on backends without `oneTrustDomain`, else the mesh's. */
  pkiFor(trustDomain: string): SessionPki;
  /** Probe settings, for a session that probes through its own agent. */
  readonly probe: { readonly timeoutMs: number; readonly concurrency: number };
  /** Aborted on SIGINT/SIGTERM: an open in progress removes what it created and rejects. */
  readonly signal?: AbortSignal;
}

/** A backend opened for one run: deploys one scenario (in one mesh mode) at a time. */
export interface BackendSession {
  /** Choices made for this run (addresses, cluster, mesh version), recorded in the report. */
  details(): Readonly<Record<string, string>>;
  /** Probes from inside the environment (the Kubernetes probe agent); absent: the pipeline probes from the host. */
  readonly prober?: Prober;
  /** Why a scenario cannot run here, known only once the session is open (the mesh's version); undefined when it can. */
  unsupportedHere?(s: Scenario, meshMode: MeshMode): string | undefined;
  /** Waits until the mesh's admission fails closed, before a scenario that expects its policies refused. */
  awaitAdmissionReady?(): Promise<void>;
  deploy(options: EnvironmentOptions): Promise<Environment>;
  /** Runs first when an interrupt comes, before any teardown (no new containers or namespaces after it). */
  onInterrupt?(): void;
  /** The last static scenario has ended: processes kept for reuse by later ones can go (chaos never reuses). */
  staticDone?(): Promise<void>;
  /** Removes everything the session created; idempotent. */
  close(): Promise<void>;
}

/**
 * An environment strategy: local processes, network namespaces, containers, or a Kubernetes cluster with a mesh.
 * The one pipeline (src/run/pipeline.ts) opens a session, deploys each scenario, probes, settles and judges.
 */
export interface Backend {
  readonly name: string;
  /** How cells settle here (see SettleKind). */
  readonly settle: SettleKind;
  /** Whether scenarios may run at the same time (false where policies are cluster-wide). */
  readonly parallelScenarios: boolean;
  /** Prints the plan instead of acting (kind/cluster `--dry-run`): nothing is probed, the run has no result. */
  readonly dryRun?: boolean;
  /**
   * Chaos faults its environments can take (`Environment.chaos.capabilities` of every environment it deploys); known
   * before anything starts, so a scenario asking for more is refused up front. Absent: no chaos controls at all.
   */
  readonly chaosCapabilities?: readonly ChaosCapability[];
  /** Why this backend cannot run a scenario in a mesh mode (a typed skip); undefined when it can. */
  unsupported?(s: Scenario, meshMode: MeshMode): string | undefined;
  /**
   * One mesh, one trust domain: the installed mesh's (read before anything is created), or undefined when the run
   * installs the mesh with the first runnable scenario's. Absent: every trust domain gets its own PKI.
   */
  meshTrustDomain?(): Promise<string | undefined>;
  open(options: SessionOptions): Promise<BackendSession>;
}

/**
 * A backend whose environments are started one by one on this host (local processes, network namespaces, containers);
 * `hostBackend` (src/backend/host-session.ts) makes it a Backend.
 */
export interface HostBackend {
  readonly name: string;
  /** Choices made for this run (addresses, network), recorded in the report so a rerun can reproduce them. */
  readonly details?: Readonly<Record<string, string>>;
  readonly chaosCapabilities?: readonly ChaosCapability[];
  start(options: EnvironmentOptions): Promise<Environment>;
  /** Removes everything of the run, even what a start was still creating (the run-wide sweep). */
  removeRun?(runId: string): Promise<void>;
  /** Refuses new environments from now on (an interrupt came). */
  closeRun?(runId: string): void;
  /** Stops the processes it keeps idle for reuse (see BackendSession.staticDone). */
  releaseIdle?(): Promise<void>;
}
