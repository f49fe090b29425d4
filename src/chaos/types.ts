import type {
  ChaosSpec,
  ClientKind,
  Environment,
  Expectation,
  Observation,
  PeerAuthenticationManifest,
  PortProtocol,
  ProbeJob,
  Scenario,
  TlsEvidence,
  WorkloadKey,
  WorkloadTls,
} from '../model/index.js';
import type { ScheduledFault } from './schedule.js';

/** One probed cell: a client kind at one workload port. */
export interface ChaosCell {
  readonly key: string;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly client: ClientKind;
}

/** `workload|port|client`: looks a cell up across policy sets and client kinds. */
export function cellId(workload: WorkloadKey, port: number, client: ClientKind): string {
  return `${workload}|${port}|${client}`;
}

/** A policy set as the runner needs it: what to deliver, and what the oracle expects of every cell under it. */
export interface PolicySetView {
  readonly manifests: readonly PeerAuthenticationManifest[];
  /** By `cellId`, for every direct client kind at every workload port (not only the probed ones). */
  readonly expectations: ReadonlyMap<string, Expectation>;
}

/**
 * Which client certificates a probe presents: the run's mesh client (`current`), or one issued by the next root of a
 * staged CA rotation (`next`: a client that rotated too).
 */
export type Credentials = 'current' | 'next';

/** TLS evidence plus what the chaos checks read off the server certificate (added by the run's probe context). */
export interface ChaosTlsEvidence extends TlsEvidence {
  readonly serverSerial?: string;
  /** Epoch milliseconds. */
  readonly serverNotAfter?: number;
  /** Which mesh root issued the server certificate. */
  readonly serverRoot?: 'current' | 'next';
}

/** Validity of a client certificate the probes present (epoch milliseconds). */
export interface CertValidity {
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Issued TLS material plus the figures canaries compare against. */
export interface IssuedTls extends WorkloadTls {
  readonly serial: string;
  readonly notAfter: number;
}

/** Everything the chaos runner needs from the other stages, injected by `run/` (the stages never import each other). */
export interface ChaosRunInput {
  readonly scenario: Scenario;
  readonly spec: ChaosSpec;
  readonly schedule: readonly ScheduledFault[];
  readonly seed: number;
  readonly env: Environment;
  readonly cells: readonly ChaosCell[];
  /** `initial` and every named set. */
  readonly sets: ReadonlyMap<string, PolicySetView>;
  /** The probe job of a cell, optionally through another address (a fault proxy). */
  job(cell: ChaosCell, via?: { readonly address: string; readonly port: number }): ProbeJob;
  probe(job: ProbeJob, options: { readonly timeoutMs: number; readonly credentials: Credentials }): Promise<Observation>;
  /** The diff stage's verdict for one observation against one expectation, evidence included. */
  matches(exp: Expectation, obs: Observation): { readonly kind: 'match' | 'mismatch' | 'error'; readonly why?: string };
  /** The TLS material of each workload at the start. */
  readonly initialTls: ReadonlyMap<WorkloadKey, IssuedTls>;
  /** Issues workload material from the mesh root (`current`) or the rotation's next root. */
  issue(workload: WorkloadKey, options: { readonly root: Credentials; readonly notAfter?: number; readonly bundle: string }): IssuedTls;
  readonly meshCaPem: string;
  /** Present when the schedule holds a ca-rotation. */
  readonly nextCaPem?: string;
  /** Validity of the probe clients' certificates (for clock skew). */
  readonly clientValidity: Readonly<Record<'mesh' | 'expired', CertValidity>>;
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Registers clean-up that must also run on Ctrl-C (a fault proxy, a packet-loss rule); returns its remover. */
  registerCleanup(label: string, fn: () => Promise<void>): () => void;
  readonly signal?: AbortSignal;
}

/** One probe fired during the run. Times are ms after t = 0. */
export interface ProbeRecord {
  readonly cell: ChaosCell;
  readonly startMs: number;
  readonly endMs: number;
  readonly obs: Observation;
  readonly credentials: Credentials;
  /** A check probe with its own expectation (CA rotation stages), instead of the cell's. */
  readonly special?: SpecialExpectation;
}

export interface SpecialExpectation {
  readonly outcome: 'allow' | 'deny';
  readonly rule: string;
  /** Allowed where this expects deny is a fail-open (a certificate the mesh must no longer trust). */
  readonly failOpenIfAllowed: boolean;
}
