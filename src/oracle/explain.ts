import type { DecidingPolicy, MeshMode, MtlsMode, Scenario, WorkloadKey } from '../model/index.js';
import { effectiveModes } from './effective-modes.js';

/** One line of `meshconform explain`: which policies decided a workload's (or one port's) effective mode. */
export interface ExplainEntry {
  readonly scenario: string;
  /** The mesh mode the mode holds in; a `both` scenario has an entry in each. */
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  /** `null`: the workload-level mode, which every port without its own portLevelMtls entry has. */
  readonly port: number | null;
  readonly mode: MtlsMode;
  readonly decidedBy: readonly DecidingPolicy[];
}

/** The text form also shows how the mesh mode bent the policies (kept out of the JSON shape). */
export interface ExplainLine extends ExplainEntry {
  readonly notes: readonly string[];
}

function meshModesOf(scenario: Scenario): MeshMode[] {
  return scenario.mode === 'both' ? ['sidecar', 'ambient'] : [scenario.mode];
}

/** Effective modes with their deciding policies, in scenario, mesh mode (sidecar first), workload, port order. */
export function explainLines(scenarios: readonly Scenario[]): ExplainLine[] {
  return scenarios.flatMap((s) =>
    meshModesOf(s).flatMap((meshMode) =>
      effectiveModes(s, meshMode).map((m) => ({
        scenario: m.scenario,
        meshMode,
        workload: m.workload,
        port: m.port,
        mode: m.mode,
        decidedBy: m.decidedBy.map((d) => ({ level: d.level, namespace: d.namespace, name: d.name })),
        notes: m.notes ?? [],
      })),
    ),
  );
}

/** The `--json` entries: scenario, meshMode, workload, port, mode, decidedBy. */
export function explain(scenarios: readonly Scenario[]): ExplainEntry[] {
  return explainLines(scenarios).map(({ notes: _notes, ...entry }) => entry);
}
