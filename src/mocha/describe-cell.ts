import type { CellResult } from '../model/index.js';

/** The assertion message of a cell: what was expected and why, what was observed. */
export function describeCell(c: CellResult): string {
  const chain = c.decidedBy.length === 0 ? 'no policy (PERMISSIVE by default)' : c.decidedBy.map((d) => `${d.namespace}/${d.name} (${d.level})`).join(' → ');
  return `${c.workload}:${c.port} ${c.client}: ${c.verdict}: ${c.reason} [expected ${c.expected.outcome} in ${c.expected.mode}, ${c.expected.rule}; decided by ${chain}]`;
}
