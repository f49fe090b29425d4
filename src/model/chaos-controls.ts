import type { WorkloadKey } from './scenario.js';
import type { WorkloadTls } from './environment.js';
import type { PeerAuthenticationManifest } from './policy.js';

/** What a backend can do to a running environment for chaos faults; the chaos stage asks before it schedules. */
export type ChaosCapability =
  /** kill / start one workload's data plane (needs one data-plane process per workload). */
  | 'data-plane-process'
  /** replace one workload's certificate, key or trust bundle (files replaced atomically, then SIGHUP). */
  | 'workload-tls'
  /** hold back policy updates from one workload's data plane. */
  | 'distribution-pause'
  /** drop a share of packets inside the workload's network (iptables `statistic`, netns only). */
  | 'packet-loss'
  /** start a data plane with a clock offset (`MESHCONFORM_CLOCK_OFFSET_MS`). */
  | 'clock-skew';

/** One workload's data-plane process as the backend sees it. */
export interface DataPlaneProcessState {
  readonly pid: number | undefined;
  /** False once the process exited (killed or crashed) and until it is started again. */
  readonly running: boolean;
  /** Incremented on every start: a canary that a restart really happened. */
  readonly generation: number;
}

/**
 * Chaos controls of a running environment (optional on `Environment`). Every method acts on one workload, resolves
 * once the change is in place on the backend (a killed process has exited, a started one is ready), and rejects with
 * a BackendError naming the workload when it cannot. The chaos stage still proves each fault with its own canary.
 */
export interface EnvironmentChaos {
  readonly capabilities: readonly ChaosCapability[];
  dataPlane(workload: WorkloadKey): DataPlaneProcessState;
  /** Sends `signal` to the workload's data plane and waits for it to exit (SIGKILL after 5 s for SIGTERM). */
  killDataPlane(workload: WorkloadKey, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts the workload's data plane again with its current config; ready when every workload port accepts TCP. */
  startDataPlane(workload: WorkloadKey, options?: { readonly clockOffsetMs?: number }): Promise<void>;
  /** Installs new TLS material for the workload's data plane (atomic file replace, then SIGHUP). */
  installTls(workload: WorkloadKey, tls: WorkloadTls): Promise<void>;
  /** While paused, `applyPolicies` leaves this workload's config untouched (the data plane keeps what it had). */
  pauseDistribution(workload: WorkloadKey, paused: boolean): void;
  /**
   * The policy set in the workload's data-plane config right now, read back from where the data plane reads it:
   * proves a distribution pause withheld an update, and that a policy change was delivered.
   */
  deliveredPolicies?(workload: WorkloadKey): Promise<readonly PeerAuthenticationManifest[]>;
  /** Drops `percent` % of packets reaching the workload until the returned function is called (packet-loss capability). */
  packetLoss?(workload: WorkloadKey, percent: number): Promise<() => Promise<void>>;
  /** Packets the workload's packet-loss rules dropped so far (read while the loss is on): the packet-loss canary. */
  droppedPackets?(workload: WorkloadKey): Promise<number>;
}
