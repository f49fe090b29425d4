import type { CellKey, ClientKind, MeshMode, Workload, WorkloadKey } from '../model/index.js';

/** `namespace/name`: the key a workload has in cell keys, reports and `expect` entries. */
export function workloadKey(w: Pick<Workload, 'namespace' | 'name'>): WorkloadKey {
  return `${w.namespace}/${w.name}`;
}

/** Stable key of one cell, `scenario|mode|namespace/workload|port|client`, shared by the oracle and the probes. */
export function cellKey(scenario: string, meshMode: MeshMode, workload: WorkloadKey, port: number, client: ClientKind): CellKey {
  return `${scenario}|${meshMode}|${workload}|${port}|${client}`;
}
