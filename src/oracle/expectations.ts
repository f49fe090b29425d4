import { DIRECT_CLIENT_KINDS } from '../model/index.js';
import type { Expectation, MeshMode, Scenario } from '../model/index.js';
import { cellKey, workloadKey } from './cell-key.js';
import { effectiveModes } from './effective-modes.js';
import { expectedOutcome } from './expected-outcome.js';
import { ModeIndex } from './mode-index.js';

/** The oracle's expectation for every cell: workload × declared port × client kind, in that order. */
export function expectations(scenario: Scenario, meshMode: MeshMode): Expectation[] {
  const modes = new ModeIndex(effectiveModes(scenario, meshMode));
  const out: Expectation[] = [];
  for (const w of scenario.workloads) {
    const wk = workloadKey(w);
    for (const { port, protocol } of w.ports) {
      const eff = modes.get(wk, port);
      if (eff === undefined) throw new Error(`oracle invariant: no effective mode for ${wk}:${port}`);
      for (const client of DIRECT_CLIENT_KINDS) {
        const { outcome, rule } = expectedOutcome(eff.mode, protocol, client);
        out.push({
          key: cellKey(scenario.name, meshMode, wk, port, client),
          scenario: scenario.name,
          meshMode,
          workload: wk,
          port,
          protocol,
          client,
          mode: eff.mode,
          outcome,
          rule,
          decidedBy: eff.decidedBy,
        });
      }
    }
  }
  return out;
}
