import type { CellKey, CellResult, ClientKind, ExpectedOutcome, Verdict } from '../model/index.js';
import { clientColumns, truthRows, type TruthRow as CellRow } from '../util/truth-rows.js';

export interface TruthCell {
  readonly key: CellKey;
  readonly expected: ExpectedOutcome;
  /** Absent when the cell errored or was skipped. */
  readonly observed?: ExpectedOutcome;
  readonly verdict: Verdict;
  readonly reason: string;
}

/** One workload port: a cell per client kind, `null` where no cell was run for that client. */
export interface TruthRow extends Omit<CellRow, 'cells'> {
  readonly cells: readonly (TruthCell | null)[];
}

export interface TruthTable {
  /** Every client kind fired in the cells' mesh modes, in CLIENT_KINDS order; row cells are aligned with it. */
  readonly columns: readonly ClientKind[];
  /** Sorted by scenario, mesh mode, workload, then port number. */
  readonly rows: readonly TruthRow[];
}

/**
 * The truth table of one scenario (rows workload:port, columns client kinds). Given cells of several scenarios or
 * mesh modes, each gets its own rows rather than overwriting another's.
 */
export function truthTable(cells: readonly CellResult[]): TruthTable {
  const columns = clientColumns(cells);
  const rows = truthRows(cells, columns).map((r) => ({
    ...r,
    cells: r.cells.map((c): TruthCell | null =>
      c === null
        ? null
        : { key: c.key, expected: c.expected.outcome, ...(c.observedOutcome !== undefined ? { observed: c.observedOutcome } : {}), verdict: c.verdict, reason: c.reason },
    ),
  }));
  return { columns, rows };
}
