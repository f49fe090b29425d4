import type { CellResult, RunResult, ScenarioResult, Summary, Verdict } from '../model/index.js';
import { CLIENT_SHORT_NAMES, cellLabel } from './cell-text.js';
import { OUTCOME_SHORT } from './client-labels.js';
import type { Reporter, ReporterOptions } from './reporter.js';
import { cellReproduceCommand } from './reproduce-cell.js';
import { clientColumns, truthRows } from '../util/truth-rows.js';
import { timelineLines } from './timeline-text.js';

/** Unicode symbols and colour on a TTY; plain ASCII when piped or NO_COLOR is set. */
export interface ConsoleStyle {
  readonly fancy: boolean;
  readonly tables: 'all' | 'failing' | 'none';
}

const ANSI = { bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', magenta: '\x1b[35m' } as const;
type Tone = keyof typeof ANSI;

const MAX_LIST = 50;
const MAX_LABEL = 26;

function symbols(fancy: boolean) {
  return fancy
    ? { pass: '✓', fail: '✗', ne: '≠', flaky: '~', error: 'E', skipped: '-', none: '·', ell: '…' }
    : { pass: '+', fail: 'X', ne: '!=', flaky: '~', error: 'E', skipped: '-', none: '.', ell: '..' };
}

const VERDICT_TONE: Readonly<Record<Verdict, Tone>> = { pass: 'green', fail: 'red', flaky: 'yellow', error: 'magenta', skipped: 'dim' };

export function consoleStyleFor(options: ReporterOptions = {}): ConsoleStyle {
  const stream = options.stream ?? process.stdout;
  const env = options.env ?? process.env;
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return { fancy: options.color ?? (stream.isTTY === true && !noColor), tables: options.tables ?? 'all' };
}

const width = (s: string): number => [...s].length;

// Input text (names, reasons, errors) must not drive the terminal: drop control characters, keep it on one line.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
const t = (s: string): string => s.replace(/[\t\n\r]+/g, ' ').replace(CONTROL, '');
const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));

function truncate(s: string, max: number, ell: string): string {
  const chars = [...s];
  return chars.length <= max ? s : ell + chars.slice(chars.length - max + width(ell)).join('');
}

function summaryText(s: Summary): string {
  const differs = s.differsFromIstio !== undefined ? ` (${s.differsFromIstio} conformant but not what Istio answers)` : '';
  return `${s.cells} cells: ${s.passed} passed, ${s.failed} failed, ${s.flaky} flaky, ${s.errors} errors, ${s.skipped} skipped${differs}`;
}

type Symbols = ReturnType<typeof symbols>;
type Styled = { text: string; tone?: Tone };

/** What every section draws with: the symbol set and the colouring of the chosen style. */
interface Pen {
  readonly sym: Symbols;
  paint(tone: Tone, s: string): string;
}

/** The whole end-of-run report as text: truth tables, failures, lint errors, harness errors, summary. */
export function renderConsoleReport(result: RunResult, outDir: string, style: ConsoleStyle): string {
  const pen: Pen = { sym: symbols(style.fancy), paint: (tone, s) => (style.fancy ? `${ANSI[tone]}${s}\x1b[0m` : s) };
  const { sym } = pen;
  const cells = result.scenarios.flatMap((s) => s.cells);
  const lint = result.scenarios.flatMap((s) => s.lint.map((l) => `${l.file}:${l.line}:${l.column} ${l.scenario}: ${l.message}`));
  const warnings = result.scenarios.flatMap((s) => s.warnings.map((w) => `${w.source.file}:${w.source.line}:${w.source.column} ${s.name}: ${w.message}`));
  return (
    [
      ...truthTableSection(result, style, pen),
      ...chaosSection(result, pen),
      ...listSection(
        pen,
        'Failures',
        'red',
        cells.filter((c) => c.verdict === 'fail').map((c) => withRerun(result, c, `${sym.fail} ${where(c)}: ${c.reason}`)),
      ),
      ...listSection(
        pen,
        'Flaky',
        'yellow',
        cells.filter((c) => c.verdict === 'flaky').map((c) => withRerun(result, c, `${sym.flaky} ${where(c)}: ${c.reason}`)),
      ),
      ...listSection(pen, 'Scenario lint errors: author expectations contradicting the oracle, not mesh failures', 'yellow', lint),
      ...listSection(pen, 'Harness errors: the probe or the environment could not run (never counted as denials)', 'magenta', harnessErrors(result, cells)),
      ...differentialSection(result, pen),
      ...listSection(pen, 'Scenario warnings', 'dim', [...new Set(warnings)]),
      ...summarySection(result, outDir, pen),
    ].join('\n') + '\n'
  );
}

const where = (c: CellResult): string => `${c.scenario} [${c.meshMode}] ${cellLabel(c)}`;
const scenarioTitle = (s: ScenarioResult): string => t(`${s.name} [${s.meshMode}]`);
const hasTrouble = (s: ScenarioResult): boolean => s.summary.failed + s.summary.flaky + s.summary.errors > 0 || s.lint.length > 0 || s.error !== undefined;

function verdictCell(c: CellResult | undefined, sym: Symbols): Styled {
  if (!c) return { text: sym.none, tone: 'dim' };
  const exp = OUTCOME_SHORT[c.expected.outcome];
  const tone = VERDICT_TONE[c.verdict];
  switch (c.verdict) {
    case 'pass':
      // Conformant (--claim spec) with another outcome than Istio's: show what was seen, marked '^'.
      if (c.differsFromIstio && c.observedOutcome !== undefined) return { text: `${sym.pass} ${OUTCOME_SHORT[c.observedOutcome]}^`, tone };
      return { text: `${sym.pass} ${exp}`, tone };
    case 'fail': {
      const got = c.observedOutcome;
      // Same outcome class but inconsistent evidence (misroute, wrong server identity): mark with '*'.
      const text = got === undefined ? `${sym.fail} ?${sym.ne}${exp}` : got === c.expected.outcome ? `${sym.fail} ${exp}*` : `${sym.fail} ${OUTCOME_SHORT[got]}${sym.ne}${exp}`;
      return { text, tone };
    }
    case 'flaky':
      return { text: `${sym.flaky} ${exp}`, tone };
    case 'error':
      return { text: sym.error, tone };
    case 'skipped':
      return { text: sym.skipped, tone };
    default: {
      const never: never = c.verdict;
      return { text: String(never) };
    }
  }
}

function truthTable(s: ScenarioResult, pen: Pen): string[] {
  const { sym, paint } = pen;
  const columns = clientColumns(s.cells);
  const sorted = truthRows(s.cells, columns).map((r) => ({ label: t(`${r.workload}:${r.port}`), proto: r.protocol, mode: r.mode, cells: r.cells.map((c) => c ?? undefined) }));
  const header = ['workload:port', 'proto', 'mode', ...columns.map((k) => CLIENT_SHORT_NAMES[k])];
  const body = sorted.map((r) => [{ text: truncate(r.label, MAX_LABEL, sym.ell) }, { text: r.proto }, { text: r.mode }, ...r.cells.map((c) => verdictCell(c, sym))]);
  const widths = header.map((h, i) => Math.max(width(h), ...body.map((cols) => width(cols[i]!.text))));
  const line = (cols: readonly Styled[]): string =>
    '  ' +
    cols
      .map((c, i) => {
        const padded = i === cols.length - 1 ? c.text : pad(c.text, widths[i]!);
        return c.tone ? paint(c.tone, padded) : padded;
      })
      .join(' ')
      .trimEnd();
  return [line(header.map((h) => ({ text: h, tone: 'bold' as const }))), ...body.map(line)];
}

function truthTableSection(result: RunResult, style: ConsoleStyle, pen: Pen): string[] {
  if (style.tables === 'none') return [];
  const { sym, paint } = pen;
  const out: string[] = [];
  const shown = result.scenarios.filter((s) => style.tables === 'all' || hasTrouble(s));
  if (shown.length > 0) {
    const x = `${sym.fail} allow${sym.ne}deny`;
    out.push(
      paint('bold', 'Truth tables'),
      `Legend: ${sym.pass} deny  passed (the cell names the expected outcome)    ${x}  failed: observed allow, expected deny`,
      `        ${sym.fail} allow*  right outcome, wrong evidence (misroute, server identity)    ${sym.flaky} allow  flaky: matched on a retry`,
      `        ${sym.error}  error: the probe could not run (never a denial)    ${sym.skipped}  skipped    ${sym.none}  not run`,
      `        ${sym.pass} allow^  passed: an outcome PeerAuthentication allows but Istio does not give (--claim spec)`,
      `Clients: pt = plaintext, no-cert = TLS without client cert, foreign = foreign CA, other-td = other trust domain,`,
      `         no-alpn = mesh cert without Istio ALPN.  pthru = the TLS passed through to the app untouched`,
      '',
    );
  }
  for (const s of shown) {
    out.push(paint('bold', scenarioTitle(s)) + t(`  feature ${s.feature}  ${s.file}`));
    if (s.description) out.push(`  ${t(s.description)}`);
    if (s.skipped !== undefined) out.push(paint('dim', `  skipped: ${t(s.skipped)}`));
    if (s.error !== undefined) out.push(paint('magenta', `  harness error: ${t(s.error)}`));
    if (s.cells.length > 0) out.push(...truthTable(s, pen));
    out.push(`  ${summaryText(s.summary)}`, '');
  }
  return out;
}

/** Chaos scenarios: a compact timeline each (faults, canaries, time to enforce, invariants). */
function chaosSection(result: RunResult, pen: Pen): string[] {
  const chaos = result.scenarios.filter((s) => s.timeline?.invariants !== undefined);
  if (chaos.length === 0) return [];
  const out = [pen.paint('bold', 'Chaos timelines')];
  for (const s of chaos) {
    const bad = s.timeline!.invariants!.some((i) => !i.ok) || s.timeline!.faults.some((f) => f.canary && !f.canary.ok);
    out.push(pen.paint(bad ? 'red' : 'bold', `${scenarioTitle(s)}`), ...timelineLines(s.timeline!).map((l) => `  ${t(l)}`));
  }
  out.push('');
  return out;
}

/** A failing or flaky cell's line, then the command that reruns just that cell (shell-quoted: one line whatever the key). */
const withRerun = (result: RunResult, c: CellResult, line: string): readonly string[] => [line, `  rerun: ${cellReproduceCommand(result, c)}`];

/** Items of one line, or of a first line and indented continuation lines (counted as one item). */
function listSection(pen: Pen, title: string, tone: Tone, items: readonly (string | readonly string[])[]): string[] {
  if (items.length === 0) return [];
  const out = [pen.paint(tone, `${title} (${items.length})`)];
  for (const item of items.slice(0, MAX_LIST)) for (const line of typeof item === 'string' ? [item] : item) out.push(`  ${t(line)}`);
  if (items.length > MAX_LIST) out.push(`  ${pen.sym.ell} and ${items.length - MAX_LIST} more (see report.json)`);
  out.push('');
  return out;
}

function harnessErrors(result: RunResult, cells: readonly CellResult[]): string[] {
  const harness: string[] = result.scenarios.filter((s) => s.error !== undefined).map((s) => `E ${scenarioTitle(s)}: ${s.error}`);
  // Cell errors usually share one cause per scenario (a dead data plane), so they are grouped by reason.
  const grouped = new Map<string, { title: string; reason: string; cells: CellResult[] }>();
  for (const c of cells.filter((x) => x.verdict === 'error')) {
    const k = `${c.scenario}\u0000${c.meshMode}\u0000${c.reason}`;
    const g = grouped.get(k);
    if (g) g.cells.push(c);
    else grouped.set(k, { title: `${c.scenario} [${c.meshMode}]`, reason: c.reason, cells: [c] });
  }
  for (const g of grouped.values()) {
    const first = g.cells[0]!;
    harness.push(g.cells.length === 1 ? `E ${where(first)}: ${g.reason}` : `E ${g.title} ${g.cells.length} cells: ${g.reason}`);
  }
  return harness;
}

function differentialSection(result: RunResult, pen: Pen): string[] {
  const diffLines = differentialLines(result, pen.sym.ne);
  if (diffLines.length === 0) return [];
  const out = [pen.paint('bold', 'Sidecar vs ambient (mode: both): cells whose two modes differ, and why')];
  for (const l of diffLines.slice(0, MAX_LIST)) out.push(`  ${t(l)}`);
  if (diffLines.length > MAX_LIST) out.push(`  ${pen.sym.ell} and ${diffLines.length - MAX_LIST} more lines (report.json: differentials)`);
  out.push('');
  return out;
}

function summarySection(result: RunResult, outDir: string, pen: Pen): string[] {
  const { paint } = pen;
  const s = result.summary;
  const tone: Tone = s.failed + s.errors > 0 || result.lintErrors > 0 || result.interrupted ? 'red' : s.flaky > 0 ? 'yellow' : 'green';
  const out: string[] = [];
  if (result.interrupted) {
    out.push(
      paint(
        'red',
        `INTERRUPTED by ${result.interrupted.signal} at ${result.interrupted.at}: cells of scenarios still running are errors, scenarios not started are missing; latest was not replaced`,
      ),
    );
  }
  out.push(paint(tone, `${summaryText(s)}; judged under --claim ${result.claim}`));
  out.push(`${result.lintErrors} scenario lint errors; report in ${t(outDir)}`);
  return out;
}

/** "R5.3" from "R5.3 STRICT: …": the rule's citation, enough for a compact line. */
function ruleId(rule: string): string {
  return /^R\d+(?:\.\d+)?/.exec(rule)?.[0] ?? rule.split(':')[0] ?? rule;
}

/**
 * One header per `mode: both` scenario, then one line per differing cell: the two expectations with their rule
 * citations, and the observations where they differ or disagree with the expectation.
 */
function differentialLines(result: RunResult, ne: string): string[] {
  const lines: string[] = [];
  for (const d of result.differentials ?? []) {
    lines.push(`${d.scenario}: ${d.compared} cells in both modes; expected to differ: ${d.expectedDifferences}, observed to differ: ${d.observedDifferences}`);
    for (const x of d.differences) {
      const sideText = (m: 'sidecar' | 'ambient'): string => {
        const v = x[m];
        const seen = v.observed !== undefined && v.observed !== v.expected ? ` but observed ${v.observed}` : v.observed === undefined ? ` (${v.verdict})` : '';
        return `${m} ${v.expected} (${v.mode}, ${ruleId(v.rule)})${seen}`;
      };
      const marker = x.expectedDiffers ? '' : ` [observed ${x.sidecar.observed} ${ne} ${x.ambient.observed}, expected the same]`;
      lines.push(`  ${x.workload}:${x.port} ${x.client}: ${sideText('sidecar')} | ${sideText('ambient')}${marker}`);
    }
  }
  return lines;
}

/** Truth tables, failures, lint and harness errors and the summary at the end; optionally a line per scenario. */
export function consoleReporter(options: ReporterOptions = {}): Reporter {
  const stream = options.stream ?? process.stdout;
  const style = consoleStyleFor(options);
  const sym = symbols(style.fancy);
  return {
    name: 'console',
    ...(options.progress === true ? { onScenarioEnd: (s: ScenarioResult) => progressLine(s) } : {}),
    onRunEnd(result, outDir) {
      stream.write('\n' + renderConsoleReport(result, outDir, style));
    },
  };

  function progressLine(s: ScenarioResult): void {
    const mark = s.error !== undefined || s.summary.errors > 0 ? sym.error : s.summary.failed > 0 ? sym.fail : s.skipped !== undefined ? sym.skipped : sym.pass;
    stream.write(`${mark} ${t(`${s.name} [${s.meshMode}]`)} ${summaryText(s.summary)} (${(s.durationMs / 1000).toFixed(1)} s)\n`);
  }
}
