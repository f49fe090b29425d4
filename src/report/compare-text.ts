import type { RunComparison, VerdictChange, LoneCell, TimeToEnforceChange } from './compare-runs.js';

const MAX_LIST = 50;
// Names come from input files: keep them on one line and free of terminal control sequences.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
const t = (s: string): string => s.replace(/[\t\n\r]+/g, ' ').replace(CONTROL, '');

const where = (c: { scenario: string; meshMode: string; workload: string; port: number; client: string }): string =>
  `${c.scenario} [${c.meshMode}] ${c.workload}:${c.port} ${c.client}`;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** `meshconform compare` as text: regressions first, then fixes, other changes, new and removed cells. */
export function renderComparisonText(c: RunComparison, options: { readonly color?: boolean } = {}): string {
  const paint = (code: string, s: string): string => (options.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  out.push(`before: ${t(c.before.runId)} (${c.before.startedAt}, ${t(c.before.dataPlane)}, meshconform ${t(c.before.harnessVersion)}, --claim ${c.before.claim})`);
  out.push(`after:  ${t(c.after.runId)} (${c.after.startedAt}, ${t(c.after.dataPlane)}, meshconform ${t(c.after.harnessVersion)}, --claim ${c.after.claim})`);
  out.push('');
  if (c.newBaseline !== undefined) {
    out.push(paint('33', `New baseline: ${c.newBaseline}; no regressions reported`));
    return out.join('\n') + '\n';
  }
  const section = <T>(title: string, code: string, items: readonly T[], line: (x: T) => string): void => {
    if (items.length === 0) return;
    out.push(paint(code, `${title} (${items.length})`));
    for (const x of items.slice(0, MAX_LIST)) out.push(`  ${t(line(x))}`);
    if (items.length > MAX_LIST) out.push(`  … and ${items.length - MAX_LIST} more (use --json)`);
    out.push('');
  };
  const change = (x: VerdictChange): string => `${where(x)}: ${x.before} → ${x.after}${x.after === 'pass' ? '' : `: ${x.reason}`}`;
  const lone = (x: LoneCell): string => `${where(x)}: ${x.verdict}`;
  const tte = (x: TimeToEnforceChange): string =>
    `${x.scenario} [${x.meshMode}]: ${seconds(x.beforeMs)} → ${seconds(x.afterMs)} (${x.deltaMs > 0 ? '+' : ''}${seconds(x.deltaMs)})`;
  section('Regressions: passed before, fail now', '31', c.regressions, change);
  section('Fixes: failed before, pass now', '32', c.fixes, change);
  section('Other verdict changes', '33', c.otherChanges, change);
  section('New cells', '2', c.added, lone);
  section('Removed cells', '2', c.removed, lone);
  section('Time to enforce changed', '33', c.timeToEnforce, tte);
  const total =
    `${c.regressions.length} regressions, ${c.fixes.length} fixes, ${c.otherChanges.length} other changes, ` +
    `${c.added.length} new, ${c.removed.length} removed, ${c.unchanged} unchanged`;
  out.push(paint(c.regressions.length > 0 ? '31' : '32', total));
  return out.join('\n') + '\n';
}
