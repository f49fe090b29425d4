import type { CellResult, ModeDifference, ModeDifferential, ModeSide, ScenarioResult } from '../model/index.js';
import { CLIENT_KINDS } from '../model/index.js';

function side(c: CellResult): ModeSide {
  return {
    key: c.key,
    mode: c.expected.mode,
    expected: c.expected.outcome,
    ...(c.observedOutcome !== undefined && c.verdict !== 'error' && c.verdict !== 'skipped' ? { observed: c.observedOutcome } : {}),
    verdict: c.verdict,
    rule: c.expected.rule,
  };
}

const pairKey = (c: Pick<CellResult, 'workload' | 'port' | 'client'>): string => `${c.workload}|${c.port}|${c.client}`;

/**
 * Sidecar versus ambient for one scenario run in both modes: every cell present in both (same workload, port and
 * client kind), keeping those whose expected outcomes differ (the two rules say why) or whose observed ones do.
 */
export function modeDifferential(sidecar: ScenarioResult, ambient: ScenarioResult): ModeDifferential {
  const ambientCells = new Map(ambient.cells.map((c) => [pairKey(c), c]));
  const differences: ModeDifference[] = [];
  let compared = 0;
  for (const s of sidecar.cells) {
    const a = ambientCells.get(pairKey(s));
    if (a === undefined) continue;
    compared++;
    const ss = side(s);
    const as = side(a);
    const expectedDiffers = ss.expected !== as.expected;
    const observedDiffers = ss.observed !== undefined && as.observed !== undefined && ss.observed !== as.observed;
    if (!expectedDiffers && !observedDiffers) continue;
    differences.push({ workload: s.workload, port: s.port, protocol: s.protocol, client: s.client, expectedDiffers, observedDiffers, sidecar: ss, ambient: as });
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  differences.sort((x, y) => cmp(x.workload, y.workload) || x.port - y.port || CLIENT_KINDS.indexOf(x.client) - CLIENT_KINDS.indexOf(y.client));
  return {
    scenario: sidecar.name,
    file: sidecar.file,
    compared,
    expectedDifferences: differences.filter((d) => d.expectedDiffers).length,
    observedDifferences: differences.filter((d) => d.observedDiffers).length,
    differences,
  };
}

/** A differential for every scenario that has a result in both modes with cells in each, in result order. */
export function modeDifferentials(results: readonly ScenarioResult[]): ModeDifferential[] {
  const out: ModeDifferential[] = [];
  for (const s of results) {
    if (s.meshMode !== 'sidecar' || s.cells.length === 0) continue;
    const a = results.find((r) => r.name === s.name && r.meshMode === 'ambient');
    if (a === undefined || a.cells.length === 0) continue;
    out.push(modeDifferential(s, a));
  }
  return out;
}
