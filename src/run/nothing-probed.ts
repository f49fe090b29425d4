import type { DataPlaneSpec, MeshMode, RunResult, Scenario } from '../model/index.js';
import { UsageError } from '../util/errors.js';
import { dataPlaneFor } from './data-plane-for-mode.js';

const MAX_LISTED = 5;

function listed(reasons: readonly string[]): string {
  const unique = [...new Set(reasons)];
  const more = unique.length > MAX_LISTED ? `; and ${unique.length - MAX_LISTED} more` : '';
  return `${unique.slice(0, MAX_LISTED).join('; ')}${more}`;
}

/**
 * Before anything starts: a run in which the data plane can run no scenario half would probe nothing, and a run that
 * probed nothing is not a success. Throws a usage error (exit 2) naming why.
 */
export function assertSomethingRuns(scenarios: readonly Scenario[], dataPlane: DataPlaneSpec): void {
  const reasons: string[] = [];
  for (const s of scenarios) {
    const modes: MeshMode[] = s.mode === 'both' ? ['sidecar', 'ambient'] : [s.mode];
    for (const m of modes) {
      const choice = dataPlaneFor(dataPlane, m);
      if (!('skip' in choice)) return;
      reasons.push(choice.skip);
    }
  }
  throw new UsageError(`nothing to probe: every scenario (${scenarios.length}) would be skipped: ${listed(reasons)}`);
}

/** After a run that was not interrupted: why no cell was probed (every one skipped), or undefined if some cell was. */
export function nothingProbed(result: RunResult): string | undefined {
  if (result.interrupted) return undefined;
  const { cells, skipped } = result.summary;
  if (cells - skipped > 0) return undefined;
  const reasons = result.scenarios.flatMap((s) => (s.skipped !== undefined ? [s.skipped] : s.cells.map((c) => c.reason)));
  return `nothing was probed (${cells} cells, all skipped), so the run proves nothing${reasons.length > 0 ? `: ${listed(reasons)}` : ''}`;
}
