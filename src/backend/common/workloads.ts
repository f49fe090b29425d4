import type { EnvironmentOptions, Workload, WorkloadKey, WorkloadTarget } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import type { Endpoint } from './readiness.js';

/** First application port: above Linux's default ephemeral range (32768–60999). */
const APP_PORT_BASE = 61000;

export function workloadKey(w: Workload): WorkloadKey {
  return `${w.namespace}/${w.name}`;
}

/** Where the probes reach a workload that has its own address: its declared ports as they are. */
export function targetOf(address: string, w: Workload): WorkloadTarget {
  return { address, ports: new Map(w.ports.map((p) => [p.port, p.port])) };
}

export function endpointsOf(address: string, w: Workload): Endpoint[] {
  return w.ports.map((p) => ({ workload: workloadKey(w), address, port: p.port }));
}

/**
 * The echo application's port behind each declared port: above the kernel's ephemeral range and never a declared
 * port of the workload, fixed in advance so the echo app and the data planes start together.
 */
export function appPortsOf(w: Workload): Record<string, number> {
  const declared = new Set(w.ports.map((p) => p.port));
  const ports: Record<string, number> = {};
  let candidate = APP_PORT_BASE;
  for (const p of w.ports) {
    while (declared.has(candidate)) candidate++;
    ports[String(p.port)] = candidate++;
  }
  return ports;
}

/** How many workloads a backend's environment holds, and how they map to data-plane processes. */
export interface WorkloadLimits {
  readonly backend: string;
  readonly max: number;
  /** Why `max`, e.g. `one /24`. */
  readonly maxReason: string;
  /** Set when the backend runs one data plane per workload: why (`--workloads-per-process` above 1 is refused). */
  readonly onePerWorkload?: string;
}

/** Refuses, before anything is created, a scenario the backend cannot start. */
export function checkWorkloads(o: EnvironmentOptions, where: string, limits?: WorkloadLimits): void {
  const workloads = o.scenario.workloads;
  if (limits?.onePerWorkload !== undefined && o.dataPlane.workloadsPerProcess > 1) {
    throw new BackendError(`${where}: --workloads-per-process ${o.dataPlane.workloadsPerProcess} is not supported on the ${limits.backend} backend (${limits.onePerWorkload})`);
  }
  if (workloads.length === 0) throw new BackendError(`${where}: no workloads`);
  if (limits && workloads.length > limits.max) {
    throw new BackendError(`${where}: ${workloads.length} workloads; the ${limits.backend} backend runs at most ${limits.max} per scenario (${limits.maxReason})`);
  }
  for (const w of workloads) if (!o.identities.has(workloadKey(w))) throw new BackendError(`${where}: no identity issued for workload ${workloadKey(w)}`);
}
