import type { MeshMode, RunResult, ScenarioResult, Summary } from '../model/index.js';
import { cellLabel } from './cell-text.js';
import { inProfile, type ConformanceProfile } from './profiles.js';

/** One scenario run (scenario × mesh mode) as a conformance test. A lint finding or harness error is `error`. */
export type TestOutcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestRef {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly file: string;
  readonly reason: string;
}

/** `failure`: a test failed or could not run; `partial`: some tests skipped (or none ran); else `success`. */
export type GroupOutcome = 'success' | 'partial' | 'failure';

export interface GroupResult {
  readonly name: string;
  readonly result: GroupOutcome;
  /** Tests are scenarios per mesh mode. */
  readonly statistics: { readonly tests: number; readonly passed: number; readonly failed: number; readonly errors: number; readonly skipped: number };
  readonly cells: Summary;
  readonly failedTests: readonly TestRef[];
  readonly skippedTests: readonly TestRef[];
}

const MAX_NAMED = 5;

function named(list: readonly string[]): string {
  return list.slice(0, MAX_NAMED).join(', ') + (list.length > MAX_NAMED ? ` (+${list.length - MAX_NAMED} more)` : '');
}

export function testOutcome(s: ScenarioResult): { readonly outcome: TestOutcome; readonly reason: string } {
  const failed = s.cells.filter((c) => c.verdict === 'fail');
  if (failed.length > 0) return { outcome: 'failed', reason: `${failed.length} of ${s.cells.length} cells failed: ${named(failed.map(cellLabel))}` };
  if (s.error !== undefined) return { outcome: 'error', reason: `harness error: ${s.error}` };
  if (s.lint.length > 0) return { outcome: 'error', reason: `scenario lint: ${s.lint.map((l) => l.message).join('; ')}` };
  const errors = s.cells.filter((c) => c.verdict === 'error');
  if (errors.length > 0) return { outcome: 'error', reason: `${errors.length} cells could not be probed: ${errors[0]!.reason}` };
  if (s.skipped !== undefined) return { outcome: 'skipped', reason: s.skipped };
  if (s.cells.length > 0 && s.cells.every((c) => c.verdict === 'skipped')) return { outcome: 'skipped', reason: s.cells[0]!.reason };
  return { outcome: 'passed', reason: '' };
}

const addSummary = (a: Summary, b: Summary): Summary => ({
  cells: a.cells + b.cells,
  passed: a.passed + b.passed,
  failed: a.failed + b.failed,
  flaky: a.flaky + b.flaky,
  errors: a.errors + b.errors,
  skipped: a.skipped + b.skipped,
});
const ZERO: Summary = { cells: 0, passed: 0, failed: 0, flaky: 0, errors: 0, skipped: 0 };

export function groupResult(name: string, scenarios: readonly ScenarioResult[]): GroupResult {
  const stats = { tests: scenarios.length, passed: 0, failed: 0, errors: 0, skipped: 0 };
  const failedTests: TestRef[] = [];
  const skippedTests: TestRef[] = [];
  let cells = ZERO;
  for (const s of scenarios) {
    cells = addSummary(cells, s.summary);
    const { outcome, reason } = testOutcome(s);
    const ref = { scenario: s.name, meshMode: s.meshMode, file: s.file, reason };
    if (outcome === 'passed') stats.passed++;
    else if (outcome === 'skipped') stats.skipped++, skippedTests.push(ref);
    else if (outcome === 'failed') stats.failed++, failedTests.push(ref);
    else stats.errors++, failedTests.push(ref);
  }
  const result: GroupOutcome = stats.failed + stats.errors > 0 ? 'failure' : stats.skipped > 0 || stats.tests === 0 ? 'partial' : 'success';
  return { name, result, statistics: stats, cells, failedTests, skippedTests };
}

/** Per profile, in the order defined. */
export function profileResults(run: RunResult, profiles: readonly ConformanceProfile[]): (GroupResult & { readonly description: string })[] {
  return profiles.map((p) => ({
    ...groupResult(
      p.name,
      run.scenarios.filter((s) => inProfile(p, s)),
    ),
    description: p.description,
  }));
}

/** Per scenario feature, in first-seen order. */
export function featureResults(run: RunResult): GroupResult[] {
  const byFeature = new Map<string, ScenarioResult[]>();
  for (const s of run.scenarios) byFeature.set(s.feature, [...(byFeature.get(s.feature) ?? []), s]);
  return [...byFeature].map(([f, list]) => groupResult(f, list));
}
