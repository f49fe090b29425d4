import type { CellResult, Summary } from '../model/index.js';
import { CLIENT_KINDS } from '../model/index.js';

/** Counts of each verdict. */
export function summarize(cells: readonly CellResult[]): Summary {
  let passed = 0;
  let failed = 0;
  let flaky = 0;
  let errors = 0;
  let skipped = 0;
  let differs = 0;
  for (const c of cells) {
    if (c.differsFromIstio === true) differs++;
    switch (c.verdict) {
      case 'pass':
        passed++;
        break;
      case 'fail':
        failed++;
        break;
      case 'flaky':
        flaky++;
        break;
      case 'error':
        errors++;
        break;
      case 'skipped':
        skipped++;
        break;
      default: {
        const never: never = c.verdict;
        throw new TypeError(`unknown verdict ${String(never)}`);
      }
    }
  }
  return { cells: cells.length, passed, failed, flaky, errors, skipped, ...(differs > 0 ? { differsFromIstio: differs } : {}) };
}

export type SummaryKey = 'feature' | 'scenario' | 'client' | 'workload';

/** Summaries grouped by one cell field; keys in a stable order (client kinds in CLIENT_KINDS order, others sorted). */
export function summarizeBy(cells: readonly CellResult[], key: SummaryKey): Record<string, Summary> {
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const k = c[key];
    const list = groups.get(k);
    if (list) list.push(c);
    else groups.set(k, [c]);
  }
  const order = (k: string): number => (key === 'client' ? (CLIENT_KINDS as readonly string[]).indexOf(k) : 0);
  const keys = [...groups.keys()].sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, Summary> = {};
  for (const k of keys) out[k] = summarize(groups.get(k)!);
  return out;
}
