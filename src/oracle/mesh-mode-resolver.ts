import type { DecidingPolicy, MtlsMode, Scenario, Workload } from '../model/index.js';

/** One resolved mode of a workload: `port: null` is the workload-level mode (any port without its own entry). */
export interface ResolvedMode {
  readonly port: number | null;
  readonly mode: MtlsMode;
  /** Ordered mesh → namespace → workload → port. */
  readonly decidedBy: readonly DecidingPolicy[];
  /** How the mesh mode bent the written policies for this mode (absent when it did not). */
  readonly notes?: readonly string[];
}

/** The effective-mode semantics of one mesh mode (sidecar-resolver.ts, ambient-resolver.ts). */
export interface MeshModeResolver {
  /** The workload-level mode first, then one entry per declared port, in declaration order. */
  resolve(scenario: Scenario, workload: Workload): ResolvedMode[];
}
