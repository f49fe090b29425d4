import type { EffectiveMode, MeshMode, Scenario } from '../model/index.js';
import type { MeshModeResolver } from './mesh-mode-resolver.js';
import { ambientResolver } from './ambient-resolver.js';
import { sidecarResolver } from './sidecar-resolver.js';
import { workloadKey } from './cell-key.js';

/** One resolver per mesh mode; the mapped type makes adding a mode without semantics a compile error. */
const RESOLVERS: { readonly [M in MeshMode]: MeshModeResolver } = {
  sidecar: sidecarResolver,
  ambient: ambientResolver,
};

/**
 * Effective mTLS mode of every workload of the scenario under `meshMode`: per workload, one entry with `port: null`
 * (the workload-level mode) followed by one entry per declared port, in declaration order.
 */
export function effectiveModes(scenario: Scenario, meshMode: MeshMode): EffectiveMode[] {
  const resolver = RESOLVERS[meshMode];
  return scenario.workloads.flatMap((w) =>
    resolver.resolve(scenario, w).map((r) => ({
      scenario: scenario.name,
      meshMode,
      workload: workloadKey(w),
      port: r.port,
      mode: r.mode,
      decidedBy: r.decidedBy,
      ...(r.notes !== undefined && r.notes.length > 0 ? { notes: r.notes } : {}),
    })),
  );
}
