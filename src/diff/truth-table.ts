import type { CellKey, CellResult, ClientKind, ExpectedOutcome, MeshMode, MtlsMode, PortProtocol, Verdict, WorkloadKey } from '../model/index.js';
import { CLIENT_KINDS } from '../model/index.js';
import { truthRows } from '../util/truth-rows.js';

export interface TruthCell {
  readonly key: CellKey;
  readonly expected: ExpectedOutcome;
  /** Absent when the cell errored or was skipped. */
  readonly observed?: ExpectedOutcome;
  readonly verdict: Verdict;
  readonly reason: string;
}

/** One workload port: a cell per client kind, `null` where no cell was run for that client. */
export interface TruthRow {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly mode: MtlsMode;
  readonly cells: readonly (TruthCell | null)[];
}

export interface TruthTable {
  /** Always every client kind, in CLIENT_KINDS order; row cells are aligned with it. */
  readonly columns: readonly ClientKind[];
  /** Sorted by scenario, mesh mode, workload, then port number. */
  readonly rows: readonly TruthRow[];
}

/**
 * The truth table of one scenario (rows workload:port, columns client kinds). Given cells of several scenarios or
 * mesh modes, each gets its own rows rather than overwriting another's.
 */
export function truthTable(cells: readonly CellResult[]): TruthTable {
  const rows = truthRows(cells).map((r) => ({
    scenario: r.scenario,
    meshMode: r.meshMode,
    workload: r.workload,
    port: r.port,
    protocol: r.protocol,
    mode: r.mode,
    cells: r.cells.map((c): TruthCell | null =>
      c === null
        ? null
        : { key: c.key, expected: c.expected.outcome, ...(c.observedOutcome !== undefined ? { observed: c.observedOutcome } : {}), verdict: c.verdict, reason: c.reason },
    ),
  }));
  return { columns: CLIENT_KINDS, rows };
}
