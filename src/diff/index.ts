export { observedOutcome } from './observed-outcome.js';
export { judgeCell, skippedCell, errorCell, provesViolation } from './judge-cell.js';
export { summarize, summarizeBy } from './summarize.js';
export type { SummaryKey } from './summarize.js';
export { truthTable } from './truth-table.js';
export type { TruthTable, TruthRow, TruthCell } from './truth-table.js';
export { describeDenial, describeObservation, describeDecidedBy } from './describe.js';
export { modeDifferential, modeDifferentials } from './mode-differential.js';
