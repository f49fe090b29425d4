import type { CellKey, CellResult, ClientKind, ExpectedOutcome, MeshMode, MtlsMode, PortProtocol, Verdict, WorkloadKey } from '../model/index.js';
import { CLIENT_KINDS } from '../model/index.js';

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

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The truth table of one scenario (rows workload:port, columns client kinds). Given cells of several scenarios or
 * mesh modes, each gets its own rows rather than overwriting another's.
 */
export function truthTable(cells: readonly CellResult[]): TruthTable {
  const rows = new Map<string, { row: Omit<TruthRow, 'cells'>; cells: (TruthCell | null)[] }>();
  for (const c of cells) {
    const rowKey = JSON.stringify([c.scenario, c.meshMode, c.workload, c.port]);
    let entry = rows.get(rowKey);
    if (!entry) {
      entry = {
        row: { scenario: c.scenario, meshMode: c.meshMode, workload: c.workload, port: c.port, protocol: c.protocol, mode: c.expected.mode },
        cells: CLIENT_KINDS.map(() => null),
      };
      rows.set(rowKey, entry);
    }
    const col = CLIENT_KINDS.indexOf(c.client);
    if (col < 0) continue;
    entry.cells[col] = {
      key: c.key,
      expected: c.expected.outcome,
      ...(c.observedOutcome !== undefined ? { observed: c.observedOutcome } : {}),
      verdict: c.verdict,
      reason: c.reason,
    };
  }
  const sorted = [...rows.values()].sort(
    (a, b) =>
      cmp(a.row.scenario, b.row.scenario) || cmp(a.row.meshMode, b.row.meshMode) || cmp(a.row.workload, b.row.workload) || a.row.port - b.row.port,
  );
  return { columns: CLIENT_KINDS, rows: sorted.map((e) => ({ ...e.row, cells: e.cells })) };
}
