import type { CellResult, ClientKind, MeshMode, MtlsMode, PortProtocol, WorkloadKey } from '../model/index.js';
import { CLIENT_KINDS, DIRECT_CLIENT_KINDS, clientKindsFor } from '../model/index.js';

/** The client-kind columns of a table of these cells: every kind fired in their mesh modes, in CLIENT_KINDS order. */
export function clientColumns(cells: readonly Pick<CellResult, 'meshMode'>[]): readonly ClientKind[] {
  const kinds = new Set<ClientKind>(DIRECT_CLIENT_KINDS);
  for (const m of new Set(cells.map((c) => c.meshMode))) for (const k of clientKindsFor(m)) kinds.add(k);
  return CLIENT_KINDS.filter((k) => kinds.has(k));
}

/** One workload port of a truth table: its cells aligned with the table's columns, `null` where no cell ran for a client. */
export interface TruthRow {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly mode: MtlsMode;
  readonly cells: readonly (CellResult | null)[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Groups cells into truth-table rows (workload:port × client kind), sorted by scenario, mesh mode, workload, then port
 * number. Cells of several scenarios or mesh modes each get their own rows. Shared by the diff stage and the console.
 */
export function truthRows(cells: readonly CellResult[], columns: readonly ClientKind[] = clientColumns(cells)): TruthRow[] {
  const rows = new Map<string, { row: Omit<TruthRow, 'cells'>; cells: (CellResult | null)[] }>();
  for (const c of cells) {
    const rowKey = JSON.stringify([c.scenario, c.meshMode, c.workload, c.port]);
    let entry = rows.get(rowKey);
    if (!entry) {
      entry = {
        row: { scenario: c.scenario, meshMode: c.meshMode, workload: c.workload, port: c.port, protocol: c.protocol, mode: c.expected.mode },
        cells: columns.map(() => null),
      };
      rows.set(rowKey, entry);
    }
    const col = columns.indexOf(c.client);
    if (col >= 0) entry.cells[col] = c;
  }
  return [...rows.values()]
    .sort((a, b) => cmp(a.row.scenario, b.row.scenario) || cmp(a.row.meshMode, b.row.meshMode) || cmp(a.row.workload, b.row.workload) || a.row.port - b.row.port)
    .map((e) => ({ ...e.row, cells: e.cells }));
}
