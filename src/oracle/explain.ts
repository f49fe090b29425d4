import type { DecidingPolicy, MeshMode, MtlsMode, Scenario, WorkloadKey } from '../model/index.js';
import { effectiveModes } from './effective-modes.js';

/** One line of `meshconform explain`: which policies decided a workload's (or one port's) effective mode. */
export interface ExplainEntry {
  readonly scenario: string;
  readonly workload: WorkloadKey;
  /** `null`: the workload-level mode, which every port without its own portLevelMtls entry has. */
  readonly port: number | null;
  readonly mode: MtlsMode;
  readonly decidedBy: readonly DecidingPolicy[];
}

/** A `both` scenario is explained in sidecar mode, where every mode (DISABLE included) is meaningful. */
function explainMode(scenario: Scenario): MeshMode {
  return scenario.mode === 'both' ? 'sidecar' : scenario.mode;
}

/** Effective modes with their deciding policies, in scenario, workload, port order (workload level first). */
export function explain(scenarios: readonly Scenario[]): ExplainEntry[] {
  return scenarios.flatMap((s) =>
    effectiveModes(s, explainMode(s)).map((m) => ({
      scenario: m.scenario,
      workload: m.workload,
      port: m.port,
      mode: m.mode,
      decidedBy: m.decidedBy.map((d) => ({ level: d.level, namespace: d.namespace, name: d.name })),
    })),
  );
}
