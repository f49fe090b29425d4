import { clientKindsFor } from '../model/index.js';
import type { Expectation, MeshMode, Scenario } from '../model/index.js';
import { cellKey, workloadKey } from './cell-key.js';
import { effectiveModes } from './effective-modes.js';
import { ModeIndex } from './mode-index.js';
import { outcomeFor, ruleWithNotes } from './outcome-for.js';
import { requiredOutcomes } from './required-outcome.js';

/** The oracle's expectation for every cell: workload × declared port × client kind of the mesh mode, in that order. */
export function expectations(scenario: Scenario, meshMode: MeshMode): Expectation[] {
  const modes = new ModeIndex(effectiveModes(scenario, meshMode));
  const out: Expectation[] = [];
  for (const w of scenario.workloads) {
    const wk = workloadKey(w);
    for (const { port, protocol } of w.ports) {
      const eff = modes.get(wk, port);
      if (eff === undefined) throw new Error(`oracle invariant: no effective mode for ${wk}:${port}`);
      for (const client of clientKindsFor(meshMode)) {
        const derived = outcomeFor(meshMode, eff.mode, protocol, client);
        if (derived === undefined) throw new Error(`oracle invariant: no ${meshMode} outcome for ${client}`);
        const required = requiredOutcomes(meshMode, eff.mode, protocol, client, derived);
        out.push({
          key: cellKey(scenario.name, meshMode, wk, port, client),
          scenario: scenario.name,
          meshMode,
          workload: wk,
          port,
          protocol,
          client,
          mode: eff.mode,
          outcome: derived.outcome,
          rule: ruleWithNotes(derived.rule, eff.notes),
          required: required.required,
          requiredRule: ruleWithNotes(required.rule, eff.notes),
          ...(required.denyOnlyAfterTermination ? { denyOnlyAfterTermination: true as const } : {}),
          decidedBy: eff.decidedBy,
        });
      }
    }
  }
  return out;
}
