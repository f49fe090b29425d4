// meshconform HTML report: renders the RunResult embedded in #meshconform-data. Bundled (esbuild, IIFE) and inlined
// into index.html by html-reporter.ts; type-checked against the DOM by this folder's tsconfig.json.
// Every string from the data reaches the page through text nodes or setAttribute, never through HTML parsing:
// scenario, workload and policy names are input and may contain markup.
import type uPlotType from 'uplot';
import type { CellResult, ScenarioResult, Summary, TimelineProbe, Verdict } from '../../../model/index.js';
import { clientShortName, OUTCOME_SHORT } from '../../client-labels.js';
import type { GroupResult } from '../../profile-results.js';
import type { PageData } from '../page-data.js';
import { citedRuleIds, RULE_REF } from '../../rule-refs.js';
import { cellEvidence } from './cell-evidence.js';
import { h, kv, type KvRow } from './dom.js';

// uPlot's IIFE build, inlined before this script, defines a global (absent if the library failed to load).
declare const uPlot: typeof uPlotType | undefined;
declare global {
  interface Window {
    __meshconformReady?: number;
  }
}

type ChangeKind = 'regression' | 'fix' | 'other' | 'added';
interface Change {
  readonly kind: ChangeKind;
  readonly before?: Verdict;
}
interface Row {
  readonly workload: string;
  readonly port: number;
  readonly protocol: string;
  readonly mode: string;
  readonly cells: Record<string, CellResult>;
  tr?: HTMLTableRowElement;
}
interface View {
  readonly s: ScenarioResult;
  readonly section: HTMLElement;
  readonly rows: readonly Row[];
  readonly problem: boolean;
}

const VERDICTS = ['pass', 'fail', 'flaky', 'error', 'skipped'] as const;
const VERDICT_LABEL: Readonly<Record<Verdict, string>> = { pass: 'passed', fail: 'failed', flaky: 'flaky', error: 'errors', skipped: 'skipped' };
const VERDICT_COUNT: Readonly<Record<Verdict, keyof Summary>> = { pass: 'passed', fail: 'failed', flaky: 'flaky', error: 'errors', skipped: 'skipped' };
const PROBLEM: ReadonlySet<Verdict> = new Set<Verdict>(['fail', 'error', 'flaky']);

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing from the page`);
  return e as T;
}

const data = JSON.parse(byId('meshconform-data').textContent ?? 'null') as PageData;
const run = data.run;
const comparison = data.comparison;
const omittedAttachments: ReadonlySet<string> = new Set(data.omittedAttachments ?? []);
const app = byId('app');

function ms(n: number | undefined): string | undefined {
  return n === undefined || n === null ? undefined : (n < 10 ? n.toFixed(2) : n.toFixed(1)) + ' ms';
}
function secs(n: number): string {
  return (n / 1000).toFixed(2) + ' s';
}
function summaryText(s: Summary): string {
  return s.cells + ' cells: ' + s.passed + ' passed, ' + s.failed + ' failed, ' + s.flaky + ' flaky, ' + s.errors + ' errors, ' + s.skipped + ' skipped';
}
function verdictBadge(v: string): HTMLSpanElement {
  return h('span', { class: 'badge v-' + v }, v);
}
function where(c: { workload: string; port: number; client: string }): string {
  return c.workload + ':' + c.port + ' ' + c.client;
}

// ---- indexes ---------------------------------------------------------------------------------------------
const cellIndex = new Map<string, { cell: CellResult; si: number }>();
const clientsUsed = new Set<string>();
const workloads = new Set<string>();
const features: string[] = [];
run.scenarios.forEach((s, i) => {
  if (!features.includes(s.feature)) features.push(s.feature);
  for (const c of s.cells) {
    cellIndex.set(c.key, { cell: c, si: i });
    clientsUsed.add(c.client);
    workloads.add(c.workload);
  }
});
const clients = data.clients.filter((k) => clientsUsed.has(k));
const changes = new Map<string, Change>();
if (comparison) {
  for (const x of comparison.regressions) changes.set(x.key, { kind: 'regression', before: x.before });
  for (const x of comparison.fixes) changes.set(x.key, { kind: 'fix', before: x.before });
  for (const x of comparison.otherChanges) changes.set(x.key, { kind: 'other', before: x.before });
  for (const x of comparison.added) changes.set(x.key, { kind: 'added' });
}

// ---- header and overview ---------------------------------------------------------------------------------
document.title = 'meshconform ' + run.runId + ' · ' + run.summary.failed + ' failed';
const o = run.options;
app.append(
  h('h1', null, 'meshconform report'),
  h(
    'p',
    { class: 'meta', 'data-testid': 'run-meta' },
    'run ' +
      run.runId +
      ' · data plane ' +
      run.environment.dataPlane +
      ' · backend ' +
      run.environment.backend +
      ' · claim ' +
      (run.claim || 'istio') +
      ' · meshconform ' +
      run.harness.version +
      ' · ' +
      run.startedAt +
      ' · ' +
      secs(run.durationMs),
  ),
  h(
    'p',
    { class: 'meta' },
    'paths ' +
      o.paths.join(' ') +
      (o.grep !== undefined ? ' · grep ' + o.grep : '') +
      ' · retries ' +
      o.retries +
      ' · concurrency ' +
      o.concurrency +
      ' · timeout ' +
      o.timeoutMs +
      ' ms · node ' +
      run.environment.node +
      ' ' +
      run.environment.platform,
  ),
);
if (run.interrupted) {
  document.title += ' · INTERRUPTED';
  app.append(
    h(
      'p',
      { class: 'banner interrupted', 'data-testid': 'interrupted', role: 'alert' },
      'Interrupted by ' +
        run.interrupted.signal +
        ' at ' +
        run.interrupted.at +
        ': cells of scenarios still running are errors, ' +
        'scenarios not started are missing. This run proves nothing as a whole.',
    ),
  );
}

const overview = h('section', { class: 'panel', 'data-testid': 'overview' }, h('h2', null, 'Overview'));
const cards = h(
  'div',
  { class: 'cards' },
  h('div', { class: 'card', 'data-testid': 'count-cells' }, h('span', { class: 'n' }, run.summary.cells), h('span', { class: 'l' }, 'cells')),
);
for (const v of VERDICTS) {
  const n = run.summary[VERDICT_COUNT[v]];
  cards.append(h('div', { class: 'card v-' + v, 'data-testid': 'count-' + v }, h('span', { class: 'n' }, n), h('span', { class: 'l' }, VERDICT_LABEL[v])));
}
// --claim spec: passes whose outcome PeerAuthentication allows but Istio's Envoy/ztunnel does not give, counted apart.
if (run.summary.differsFromIstio) {
  cards.append(
    h(
      'div',
      { class: 'card', 'data-testid': 'count-differs', title: 'conformant under --claim spec, but not the outcome Istio gives' },
      h('span', { class: 'n' }, run.summary.differsFromIstio),
      h('span', { class: 'l' }, 'differ from Istio'),
    ),
  );
}
if (run.lintErrors > 0)
  cards.append(h('div', { class: 'card v-flaky', 'data-testid': 'count-lint' }, h('span', { class: 'n' }, run.lintErrors), h('span', { class: 'l' }, 'scenario lint errors')));
overview.append(cards);

function groupTable(title: string, rows: readonly (GroupResult & { description?: string })[], testid: string, withDescription: boolean): HTMLTableElement {
  const t = h(
    'table',
    { class: 'grid', 'data-testid': testid },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, title),
        h('th', null, 'result'),
        h('th', null, 'tests'),
        h('th', null, 'passed'),
        h('th', null, 'failed'),
        h('th', null, 'errors'),
        h('th', null, 'skipped'),
        h('th', null, 'cells'),
        withDescription ? h('th', null, 'covers') : null,
      ),
    ),
  );
  const body = h('tbody');
  for (const g of rows) {
    const st = g.statistics;
    const none = st.tests === 0;
    body.append(
      h(
        'tr',
        { 'data-group': g.name },
        h('td', null, g.name),
        h('td', { class: none ? 'r-none' : 'r-' + g.result }, none ? 'not run' : g.result),
        h('td', { class: 'num' }, st.tests),
        h('td', { class: 'num' }, st.passed),
        h('td', { class: 'num' }, st.failed),
        h('td', { class: 'num' }, st.errors),
        h('td', { class: 'num' }, st.skipped),
        h('td', null, none ? '—' : summaryText(g.cells)),
        withDescription ? h('td', null, g.description) : null,
      ),
    );
  }
  t.append(body);
  return t;
}
overview.append(h('h3', null, 'Profiles'), groupTable('profile', data.profiles, 'profiles', true));
overview.append(h('h3', null, 'Features'), groupTable('feature', data.features, 'features', false));
app.append(overview);

// ---- comparison with a baseline -----------------------------------------------------------------------------
if (comparison) {
  const cmp = h('section', { class: 'panel', 'data-testid': 'comparison' }, h('h2', null, 'Compared with the baseline'));
  cmp.append(
    h(
      'p',
      { class: 'meta' },
      'baseline ' +
        comparison.file +
        ': run ' +
        comparison.before.runId +
        ' of ' +
        comparison.before.startedAt +
        ' (' +
        comparison.before.dataPlane +
        ', meshconform ' +
        comparison.before.harnessVersion +
        ') · ' +
        summaryText(comparison.before.summary),
    ),
  );
  const counts = h('div', { class: 'cards' });
  const countLabels = {
    regressions: 'regressions',
    fixes: 'fixes',
    otherChanges: 'other changes',
    added: 'new cells',
    removed: 'removed cells',
    timeToEnforce: 'time-to-enforce changes',
  } as const;
  const countCards: readonly [keyof typeof countLabels, string][] = [
    ['regressions', 'v-fail'],
    ['fixes', 'v-pass'],
    ['otherChanges', 'v-flaky'],
    ['added', ''],
    ['removed', ''],
    ['timeToEnforce', ''],
  ];
  for (const [name, cls] of countCards) {
    counts.append(
      h(
        'div',
        { class: 'card ' + cls, 'data-testid': 'comparison-count-' + name },
        h('span', { class: 'n' }, comparison[name].length),
        h('span', { class: 'l' }, countLabels[name]),
      ),
    );
  }
  counts.append(h('div', { class: 'card' }, h('span', { class: 'n' }, comparison.unchanged), h('span', { class: 'l' }, 'unchanged')));
  cmp.append(counts);
  type Listed = { key: string; scenario: string; meshMode: string; workload: string; port: number; client: string };
  function changeList<T extends Listed>(title: string, list: readonly T[], text: (x: T) => string): void {
    if (!list.length) return;
    const ul = h('ul', { class: 'changes' });
    for (const x of list.slice(0, 500)) {
      const label = x.scenario + ' [' + x.meshMode + '] ' + where(x);
      const link = cellIndex.has(x.key) ? h('a', { class: 'cell-link', 'data-open-cell': x.key }, label) : h('span', null, label);
      ul.append(h('li', null, link, ': ' + text(x)));
    }
    if (list.length > 500) ul.append(h('li', { class: 'empty' }, '… and ' + (list.length - 500) + ' more'));
    cmp.append(h('h3', null, title + ' (' + list.length + ')'), ul);
  }
  changeList('Regressions: passed before, fail now', comparison.regressions, (x) => x.before + ' → ' + x.after + ': ' + x.reason);
  changeList('Fixes: failed before, pass now', comparison.fixes, (x) => x.before + ' → ' + x.after);
  changeList('Other verdict changes', comparison.otherChanges, (x) => x.before + ' → ' + x.after);
  changeList('New cells', comparison.added, (x) => x.verdict);
  changeList('Removed cells', comparison.removed, (x) => 'was ' + x.verdict);
  if (comparison.timeToEnforce.length) {
    const tte = h('ul', { class: 'changes' });
    for (const x of comparison.timeToEnforce) {
      tte.append(h('li', null, x.scenario + ' [' + x.meshMode + ']: ' + secs(x.beforeMs) + ' → ' + secs(x.afterMs) + ' (' + (x.deltaMs > 0 ? '+' : '') + secs(x.deltaMs) + ')'));
    }
    cmp.append(h('h3', null, 'Time to enforce changed (' + comparison.timeToEnforce.length + ')'), tte);
  }
  app.append(cmp);
}

// ---- filters ---------------------------------------------------------------------------------------------
function select(testid: string, allLabel: string, values: readonly string[]): HTMLSelectElement {
  const s = h('select', { 'data-testid': testid, onchange: applyFilters }, h('option', { value: '' }, allLabel));
  for (const v of values) s.append(h('option', { value: v }, v));
  return s;
}
const fProblems = h('input', { type: 'checkbox', 'data-testid': 'filter-failures', onchange: applyFilters });
const fFeature = select('filter-feature', 'all features', features);
const fWorkload = select('filter-workload', 'all workloads', Array.from(workloads).sort());
const fClient = select('filter-client', 'all clients', clients);
const status = h('span', { class: 'status', 'data-testid': 'filter-status' });
const filters = h(
  'nav',
  { class: 'filters', 'data-testid': 'filters' },
  h('label', null, fProblems, 'only failing, flaky or error cells'),
  h('label', null, 'feature', fFeature),
  h('label', null, 'workload', fWorkload),
  h('label', null, 'client', fClient),
  h(
    'span',
    { class: 'legend' },
    '✓ passed (names the expected outcome) · ^ passed with an outcome PeerAuthentication allows but Istio does not give · ✗ observed≠expected · * right outcome, wrong evidence · ~ flaky · E probe error · – skipped',
  ),
  status,
);
document.body.insertBefore(filters, document.body.firstChild);

// ---- scenarios ---------------------------------------------------------------------------------------------
const views: View[] = [];
const buttons = new Map<string, HTMLButtonElement>(); // cell key → its matrix button
const container = h('div', { 'data-testid': 'scenarios' });
const noMatch = h('p', { class: 'empty', 'data-testid': 'no-match', hidden: true }, 'No scenario matches the filters.');
app.append(container, noMatch);

function cellText(c: CellResult): string {
  const exp = OUTCOME_SHORT[c.expected.outcome];
  switch (c.verdict) {
    case 'pass':
      return c.differsFromIstio && c.observedOutcome ? '✓ ' + OUTCOME_SHORT[c.observedOutcome] + '^' : '✓ ' + exp;
    case 'fail':
      if (c.observedOutcome === undefined) return '✗ ?≠' + exp;
      return c.observedOutcome === c.expected.outcome ? '✗ ' + exp + '*' : '✗ ' + OUTCOME_SHORT[c.observedOutcome] + '≠' + exp;
    case 'flaky':
      return '~ ' + exp;
    case 'error':
      return 'E';
    default:
      return '–';
  }
}

function changeText(ch: Change): string {
  if (ch.kind === 'added') return 'new';
  if (ch.kind === 'regression') return '▼ was ' + ch.before;
  if (ch.kind === 'fix') return '▲ was ' + ch.before;
  return 'was ' + ch.before;
}

function renderScenario(s: ScenarioResult, si: number): HTMLElement {
  const section = h('section', { class: 'panel scenario', 'data-testid': 'scenario', 'data-scenario': s.name, 'data-feature': s.feature, id: 'scenario-' + si });
  const state =
    s.error !== undefined ? 'error' : s.summary.failed > 0 ? 'fail' : s.summary.errors > 0 ? 'error' : s.skipped !== undefined ? 'skipped' : s.summary.flaky > 0 ? 'flaky' : 'pass';
  section.append(
    h('h2', null, verdictBadge(state), h('span', { 'data-testid': 'scenario-name' }, s.name), h('span', { class: 'mode' }, ' [' + s.meshMode + ']')),
    h('p', { class: 'meta' }, 'feature ' + s.feature + ' · ' + s.file + ' · ' + secs(s.durationMs) + ' · ' + summaryText(s.summary)),
  );
  if (s.description) section.append(h('p', { 'data-testid': 'scenario-description' }, s.description));
  if (s.error !== undefined) section.append(h('div', { class: 'box error' }, 'Harness error: ' + s.error));
  if (s.skipped !== undefined) section.append(h('div', { class: 'box skip' }, 'Skipped: ' + s.skipped));
  for (const l of s.lint)
    section.append(h('div', { class: 'box lint' }, 'Scenario lint (the expectation is wrong, not the mesh): ' + l.file + ':' + l.line + ':' + l.column + ' ' + l.message));
  for (const w of s.warnings) section.append(h('div', { class: 'box warn' }, 'Warning: ' + w.source.file + ':' + w.source.line + ':' + w.source.column + ' ' + w.message));
  if (s.timeline) section.append(renderTimeline(s));

  const rows: Row[] = [];
  if (s.cells.length) {
    const byRow = new Map<string, Row>();
    for (const c of s.cells) {
      const k = c.workload + '\u0000' + c.port;
      let r = byRow.get(k);
      if (!r) {
        r = { workload: c.workload, port: c.port, protocol: c.protocol, mode: c.expected.mode, cells: {} };
        byRow.set(k, r);
        rows.push(r);
      }
      r.cells[c.client] = c;
    }
    rows.sort((a, b) => (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : a.port - b.port));
    const head = h('tr', null, h('th', null, 'workload:port'), h('th', null, 'proto'), h('th', null, 'mode'));
    for (const k of clients) head.append(h('th', { 'data-client': k, title: k }, clientShortName(k)));
    const body = h('tbody');
    for (const r of rows) {
      const tr = h(
        'tr',
        { 'data-workload': r.workload, 'data-port': r.port },
        h('th', { class: 'row', title: r.workload + ':' + r.port }, r.workload + ':' + r.port),
        h('td', { class: 'dim' }, r.protocol),
        h('td', { class: 'dim' }, r.mode),
      );
      for (const k of clients) {
        const c = r.cells[k];
        if (!c) {
          tr.append(h('td', { class: 'none', 'data-client': k }, '·'));
          continue;
        }
        const ch = changes.get(c.key);
        const mismatch = c.observedOutcome !== undefined && c.observedOutcome !== c.expected.outcome && !c.differsFromIstio;
        let title = c.verdict + ': ' + c.reason;
        if (mismatch) title = 'expected ' + c.expected.outcome + ', observed ' + c.observedOutcome + ' — ' + title;
        const btn = h(
          'button',
          {
            type: 'button',
            class: 'cell v-' + c.verdict + (mismatch ? ' mismatch' : '') + (ch ? ' ch-' + ch.kind : ''),
            'data-testid': 'cell',
            'data-cell-key': c.key,
            'data-verdict': c.verdict,
            'data-expected': c.expected.outcome,
            'data-observed': c.observedOutcome,
            'data-change': ch ? ch.kind : null,
            'data-evidence': c.evidence ? 'true' : null,
            title: c.evidence ? title + ' · the data plane’s logs and configuration kept' : title,
          },
          cellText(c),
        );
        buttons.set(c.key, btn);
        if (ch) btn.append(h('span', { class: 'chg' }, changeText(ch)));
        tr.append(h('td', { 'data-client': k }, btn));
      }
      r.tr = tr;
      body.append(tr);
    }
    section.append(h('div', { class: 'matrix-wrap' }, h('table', { class: 'matrix', 'data-testid': 'matrix' }, h('thead', null, head), body)));
  }

  const yamlText = data.policyYaml[si];
  const policies = h(
    'details',
    { 'data-testid': 'policies' },
    h('summary', null, 'Policies (' + s.policies.length + ') as YAML'),
    yamlText ? h('pre', { 'data-testid': 'policies-yaml' }, yamlText) : h('p', { class: 'empty' }, 'no PeerAuthentication: every port is PERMISSIVE by default'),
  );
  section.append(policies);
  views.push({ s, section, rows, problem: s.error !== undefined || s.lint.length > 0 });
  return section;
}

// ---- chaos timeline (uPlot) ----------------------------------------------------------------------------
type Category = 'ok' | 'open' | 'closed' | 'other' | 'error';
const CATEGORIES: readonly { id: Category; label: string; color: string; size: number }[] = [
  { id: 'ok', label: 'as expected', color: '#2e7d32', size: 6 },
  { id: 'open', label: 'FAIL-OPEN: allowed, expected deny', color: '#d50000', size: 11 },
  { id: 'closed', label: 'denied, expected allow', color: '#ef6c00', size: 8 },
  { id: 'other', label: 'other mismatch', color: '#f9a825', size: 8 },
  { id: 'error', label: 'probe error', color: '#8e24aa', size: 8 },
];
function category(p: TimelineProbe): Category {
  // Chaos runs judge each probe against what was allowed at that moment (a transition, a fault window).
  if (p.judged === 'fail-open') return 'open';
  if (p.judged === 'match' || p.judged === 'transition') return 'ok';
  if (p.judged === 'error') return 'error';
  if (p.judged === 'tolerated') return p.expected === 'deny' ? 'ok' : 'closed';
  if (p.judged === 'unavailable') return 'closed';
  if (p.judged === 'mismatch') return 'other';
  if (p.observed === 'error') return 'error';
  if (p.observed === p.expected) return 'ok';
  if (p.expected === 'deny') return 'open';
  if (p.observed === 'deny') return 'closed';
  return 'other';
}

type Timeline = NonNullable<ScenarioResult['timeline']>;

function renderTimeline(s: ScenarioResult): HTMLElement {
  const tl = s.timeline!;
  const wrap = h('div', { class: 'timeline', 'data-testid': 'timeline' }, h('h3', null, 'Timeline'));
  const { lanes, laneOf } = timelineLanes(tl);
  const chart = h('div', { class: 'chart', 'data-testid': 'timeline-chart' });
  wrap.append(chart, timelineSummary(tl));

  if (typeof uPlot !== 'function') {
    chart.append(h('p', { class: 'empty' }, 'chart library missing'));
    return wrap;
  }
  const Plot = uPlot;
  const plotData = timelineData(tl, laneOf);
  const opts = timelineOptions(tl, lanes, Plot.pxRatio || 1);
  try {
    new Plot(opts, plotData, chart);
  } catch (err) {
    chart.append(h('p', { class: 'box error' }, 'the timeline could not be drawn: ' + (err instanceof Error ? err.message : String(err))));
  }
  return wrap;
}

/** One lane per probed cell, in the order the cells first appear. */
function timelineLanes(tl: Timeline): { lanes: string[]; laneOf: Map<string, number> } {
  const lanes: string[] = [];
  const laneOf = new Map<string, number>();
  for (const p of tl.probes) {
    if (!laneOf.has(p.key)) {
      laneOf.set(p.key, lanes.length);
      lanes.push(p.workload + ':' + p.port + ' ' + clientShortName(p.client));
    }
  }
  return { lanes, laneOf };
}

function timelineSummary(tl: Timeline): HTMLUListElement {
  const failOpen = tl.probes.filter((p) => category(p) === 'open');
  const summary = h('ul', { 'data-testid': 'timeline-summary' });
  for (const f of tl.faults) summary.append(h('li', null, 'fault ' + f.name + ': ' + secs(f.startMs) + ' – ' + (f.endMs === undefined ? 'end' : secs(f.endMs))));
  for (const e of tl.events) summary.append(h('li', null, secs(e.atMs) + ': ' + e.label));
  summary.append(h('li', { 'data-field': 'fail-open' }, failOpen[0] ? failOpen.length + ' fail-open probe(s), first at ' + secs(failOpen[0].atMs) : 'no fail-open probe'));
  summary.append(h('li', { 'data-field': 'time-to-enforce' }, tl.timeToEnforceMs === undefined ? 'time to enforce: not measured' : 'time to enforce: ' + secs(tl.timeToEnforceMs)));
  return summary;
}

/** x: seconds; one series per category, each probe a point on its cell's lane. */
function timelineData(tl: Timeline, laneOf: ReadonlyMap<string, number>): uPlotType.AlignedData {
  // uPlot wants strictly increasing x: probes fired in the same millisecond are spread by a microsecond each.
  const probes = tl.probes.slice().sort((a, b) => a.atMs - b.atMs);
  const xs: number[] = [];
  const series: (number | null)[][] = CATEGORIES.map(() => []);
  let last = -Infinity;
  for (const p of probes) {
    const x = Math.max(p.atMs, last + 0.001);
    last = x;
    xs.push(x / 1000);
    const cat = category(p);
    CATEGORIES.forEach((c, i) => series[i]!.push(c.id === cat ? (laneOf.get(p.key) ?? null) : null));
  }
  return [xs, ...series] as uPlotType.AlignedData;
}

function timelineOptions(tl: Timeline, lanes: readonly string[], dpr: number): uPlotType.Options {
  const laneIdx = lanes.map((_, i) => i);
  return {
    width: Math.max(600, Math.min(1400, (app.clientWidth || 1000) - 90)),
    height: Math.max(220, 140 + lanes.length * 24),
    scales: { x: { time: false, range: [0, Math.max(tl.durationMs, 1) / 1000] }, y: { range: [-1.4, Math.max(lanes.length, 1) + 0.4] } },
    axes: [
      { label: 'seconds since the scenario started' },
      { splits: () => laneIdx, values: (_u, splits) => splits.map((v) => (lanes[v] === undefined ? '' : lanes[v].slice(0, 34))), size: 210, gap: 4 },
    ],
    cursor: { drag: { x: true, y: false } },
    series: [
      { label: 't', value: (_u, v) => (v === null || v === undefined ? '—' : v.toFixed(3) + ' s') },
      ...CATEGORIES.map(
        (c): uPlotType.Series => ({
          label: c.label,
          stroke: c.color,
          width: 0,
          paths: () => null,
          points: { show: true, size: c.size, stroke: c.color, fill: c.color },
          value: (_u, v) => (v === null || v === undefined ? '—' : (lanes[v] ?? '')),
        }),
      ),
    ],
    hooks: { drawClear: [(u) => drawFaultBands(u, tl, dpr)], draw: [(u) => drawEventMarks(u, tl, dpr)] },
  };
}

/** Each fault as a shaded band across the lanes, named at its start. */
function drawFaultBands(u: uPlotType, tl: Timeline, dpr: number): void {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = 11 * dpr + 'px sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  for (const f of tl.faults) {
    const x0 = u.valToPos(f.startMs / 1000, 'x', true);
    const x1 = u.valToPos((f.endMs === undefined ? tl.durationMs : f.endMs) / 1000, 'x', true);
    ctx.fillStyle = 'rgba(255, 152, 0, 0.20)';
    ctx.fillRect(x0, u.bbox.top, Math.max(dpr, x1 - x0), u.bbox.height);
    ctx.fillStyle = '#8a4b00';
    ctx.fillText('fault: ' + f.name, x0 + 4 * dpr, u.bbox.top + 12 * dpr);
  }
  ctx.restore();
}

/** Each event as a dashed line, and the time to enforce as a bar from the last change. */
function drawEventMarks(u: uPlotType, tl: Timeline, dpr: number): void {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = 11 * dpr + 'px sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  for (const e of tl.events) {
    const x = u.valToPos(e.atMs / 1000, 'x', true);
    ctx.strokeStyle = '#1a56c4';
    ctx.setLineDash([4 * dpr, 3 * dpr]);
    ctx.lineWidth = dpr;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = '#1a56c4';
    ctx.fillText(e.label, x + 4 * dpr, u.bbox.top + 26 * dpr);
  }
  const lastChange = tl.events.length ? tl.events[tl.events.length - 1] : undefined;
  if (lastChange && tl.timeToEnforceMs !== undefined) {
    const a = u.valToPos(lastChange.atMs / 1000, 'x', true);
    const b = u.valToPos((lastChange.atMs + tl.timeToEnforceMs) / 1000, 'x', true);
    const y = u.valToPos(-0.95, 'y', true);
    ctx.setLineDash([]);
    ctx.strokeStyle = '#1f2328';
    ctx.lineWidth = 2 * dpr;
    ctx.beginPath();
    ctx.moveTo(a, y);
    ctx.lineTo(b, y);
    ctx.moveTo(b, y - 5 * dpr);
    ctx.lineTo(b, y + 5 * dpr);
    ctx.stroke();
    ctx.fillStyle = '#1f2328';
    ctx.fillText('time to enforce ' + secs(tl.timeToEnforceMs), b + 4 * dpr, y + 4 * dpr);
  }
  ctx.restore();
}

// ---- spec rules ------------------------------------------------------------------------------------------
// The text of every cited rule of docs/spec.md is embedded (the page is offline); rule ids link to it (a section
// reference such as R3 has no embedded text and stays plain).

/** A rule string with each rule id the page holds as a link to its embedded section. */
function ruleLinks(text: string): HTMLSpanElement {
  const span = h('span', null);
  let at = 0;
  for (const m of text.matchAll(RULE_REF)) {
    if (!data.rules[m[0]]) continue;
    span.append(text.slice(at, m.index), h('a', { href: '#rule-' + m[0], class: 'rule-ref', 'data-rule': m[0] }, m[0]));
    at = m.index + m[0].length;
  }
  span.append(text.slice(at));
  return span;
}

/** The full text of the rules the given strings cite, for the drill-down. */
function ruleTexts(texts: readonly string[]): HTMLElement | null {
  const ids = [...new Set(texts.flatMap((t) => citedRuleIds(t)))].filter((id) => data.rules[id]);
  if (!ids.length) return null;
  return h(
    'div',
    { class: 'rule-texts', 'data-field': 'rule-text' },
    ids.map((id) => {
      const r = data.rules[id]!;
      return h('blockquote', { 'data-rule': id }, h('p', { class: 'rule-title' }, h('a', { href: '#rule-' + id }, r.id + ' ' + r.title)), h('p', { class: 'rule-body' }, r.text));
    }),
  );
}

const ruleList = Object.values(data.rules);
if (ruleList.length) {
  app.append(
    h(
      'section',
      { id: 'spec-rules', 'data-testid': 'spec-rules' },
      h('h2', null, 'Specification rules cited'),
      h('p', { class: 'meta' }, 'From docs/spec.md of meshconform ' + run.harness.version + ': the rules behind every expected outcome above.'),
      ruleList.map((r) => h('section', { id: 'rule-' + r.id, class: 'rule', 'data-rule': r.id }, h('h3', null, r.id + ' ' + r.title), h('p', { class: 'rule-body' }, r.text))),
    ),
  );
}

// ---- evidence panel ------------------------------------------------------------------------------------
const panel = h('aside', { class: 'evidence', 'data-testid': 'evidence', hidden: true, 'aria-live': 'polite' });
document.body.append(panel);
let selected: HTMLButtonElement | null = null;

function policyYaml(si: number, p: { namespace: string; name: string }): string | undefined {
  return (data.policyDocs[si] ?? []).find((d) => d.namespace === p.namespace && d.name === p.name)?.yaml;
}

function openEvidence(key: string): void {
  const hit = cellIndex.get(key);
  if (!hit) return;
  const c = hit.cell;
  const s = run.scenarios[hit.si]!;
  if (selected) selected.classList.remove('selected');
  selected = buttons.get(key) ?? null;
  if (selected) selected.classList.add('selected');
  panel.replaceChildren();
  panel.setAttribute('data-cell-key', key);
  panel.append(
    h('button', { class: 'close', type: 'button', 'data-testid': 'evidence-close', title: 'close (Esc)', onclick: closeEvidence }, '×'),
    h('h2', { 'data-field': 'title' }, where(c)),
    h('p', { class: 'meta' }, s.name + ' [' + s.meshMode + '] · feature ' + s.feature + ' · protocol ' + c.protocol),
    h('p', null, verdictBadge(c.verdict), h('span', { 'data-field': 'reason' }, c.reason)),
  );
  const ch = changes.get(key);
  if (ch) panel.append(h('p', { 'data-field': 'baseline' }, ch.kind === 'added' ? 'new since the baseline' : 'baseline verdict: ' + ch.before + ' (' + ch.kind + ')'));
  panel.append(expectedEvidence(c), decidedByEvidence(c, hit.si), observedEvidence(c), cellEvidence(run, s, c, omittedAttachments));
  panel.append(h('p', { class: 'meta mono' }, 'cell ' + key));
  panel.hidden = false;
  try {
    history.replaceState(null, '', '#cell=' + encodeURIComponent(key));
  } catch {
    // file: URLs may refuse
  }
}

/** The expected outcome, the rules behind it (with their text), and a note when it is not Istio's answer. */
function expectedEvidence(c: CellResult): DocumentFragment {
  const out = document.createDocumentFragment();
  const expected: KvRow[] = [
    ['outcome', c.expected.outcome, 'expected-outcome'],
    ['effective mode', c.expected.mode, 'expected-mode'],
    ['rule', ruleLinks(c.expected.rule), 'rule'],
  ];
  if (c.expected.required) {
    expected.push(
      ['PeerAuthentication requires', c.expected.required.join(' or '), 'required-outcomes'],
      ['why', c.expected.requiredRule && ruleLinks(c.expected.requiredRule), 'required-rule'],
    );
  }
  out.append(h('h3', null, 'Expected'), kv(expected));
  const texts = ruleTexts([c.expected.rule, c.expected.requiredRule ?? '']);
  if (texts) out.append(texts);
  if (c.differsFromIstio) {
    out.append(
      h(
        'p',
        { class: 'note', 'data-field': 'differs-from-istio' },
        'Conformant, but not what Istio answers: observed ' + c.observedOutcome + ', Istio gives ' + c.expected.outcome + ' here.',
      ),
    );
  }
  return out;
}

/** The chain of policies that decided the effective mode, each with its YAML. */
function decidedByEvidence(c: CellResult, si: number): DocumentFragment {
  const out = document.createDocumentFragment();
  out.append(h('h3', null, 'Why it was expected'));
  if (!c.decidedBy.length) {
    out.append(h('p', { 'data-field': 'decided-by' }, 'No policy applies to this port: PERMISSIVE by default.'));
    return out;
  }
  const chain = h('ol', { class: 'chain', 'data-field': 'decided-by' });
  for (const p of c.decidedBy) chain.append(h('li', null, p.level + ' level: ' + p.namespace + '/' + p.name));
  out.append(h('p', { class: 'meta' }, 'Policies that decided the effective mode, outermost first (the last one wins):'), chain);
  for (const p of c.decidedBy) {
    const y = policyYaml(si, p);
    if (y) out.append(h('details', null, h('summary', null, p.namespace + '/' + p.name + ' as YAML'), h('pre', null, y)));
  }
  return out;
}

function observedEvidence(c: CellResult): DocumentFragment {
  const out = document.createDocumentFragment();
  out.append(h('h3', null, 'Observed'));
  const ob = c.observed;
  if (!ob) out.append(h('p', { 'data-field': 'observed-outcome', class: 'empty' }, 'nothing observed (' + c.verdict + ')'));
  else out.append(kv(observedRows(c, ob)));
  return out;
}

function observedRows(c: CellResult, ob: NonNullable<CellResult['observed']>): KvRow[] {
  const rows: KvRow[] = [
    ['outcome', c.observedOutcome === undefined ? '(none: ' + ob.status + ')' : c.observedOutcome, 'observed-outcome'],
    ['status', ob.status, 'status'],
  ];
  if (ob.status === 'allowed') {
    rows.push(['path', ob.path, 'path']);
    rows.push(['answered by', ob.echo.workload + ':' + ob.echo.port + ' (app received ' + ob.echo.received + ', ' + ob.echo.protocol + ')', 'echo']);
    if (ob.echo.xfcc !== undefined) rows.push(['x-forwarded-client-cert', ob.echo.xfcc, 'xfcc']);
    if (ob.httpStatus !== undefined) rows.push(['HTTP status', ob.httpStatus, 'http-status']);
  } else if (ob.status === 'denied') {
    rows.push(['denied how', ob.how, 'denial']);
    if (ob.alert) rows.push(['TLS alert', ob.alert.name + (ob.alert.code !== undefined ? ' (' + ob.alert.code + ')' : ''), 'alert']);
    if (ob.httpStatus !== undefined) rows.push(['HTTP status', ob.httpStatus, 'http-status']);
    rows.push(['detail', ob.detail, 'detail']);
  } else {
    rows.push(['error', ob.message, 'error']);
  }
  rows.push(['TLS version', ob.tls ? ob.tls.version || 'none' : 'no TLS', 'tls-version']);
  rows.push(['ALPN', ob.tls ? ob.tls.alpn || 'none negotiated' : 'no TLS', 'alpn']);
  if (ob.tls) {
    rows.push(['server identity', ob.tls.serverIdentity || 'no SPIFFE ID', 'server-identity']);
    rows.push(['server certificate from', ob.tls.serverIssuer + ' CA', 'server-issuer']);
    rows.push(['identity as expected', ob.tls.serverIdentityOk ? 'yes' : 'no', 'server-identity-ok']);
  }
  // Envoy's TCP metadata exchange: the answering proxy named itself in its preamble.
  if (ob.mx) rows.push(['istio-peer-exchange', 'preamble from ' + (ob.mx.workload ? (ob.mx.namespace ? ob.mx.namespace + '/' : '') + ob.mx.workload : 'an unnamed proxy'), 'mx']);
  // The echo application's own record of this probe: it was reached, whatever the client saw.
  if (ob.receipt) rows.push(['application receipt', 'received ' + ob.receipt.received + ' at ' + ob.receipt.workload + ':' + ob.receipt.port, 'receipt']);
  rows.push(['attempts', ob.attempts, 'attempts']);
  rows.push(['timings', timingsText(ob.timings), 'timings']);
  rows.push(['started', new Date(ob.timings.startedAt).toISOString(), 'started']);
  return rows;
}

function timingsText(t: NonNullable<CellResult['observed']>['timings']): string {
  const timings = ['connect ' + (ms(t.connectMs) || '–'), 'handshake ' + (ms(t.handshakeMs) || '–')];
  if (t.tunnelMs !== undefined) timings.push('HBONE CONNECT ' + ms(t.tunnelMs));
  timings.push('total ' + ms(t.totalMs));
  return timings.join(' · ');
}
function closeEvidence(): void {
  panel.hidden = true;
  if (selected) selected.classList.remove('selected');
  selected = null;
  try {
    history.replaceState(null, '', '#');
  } catch {
    // ignore
  }
}
document.addEventListener('click', (ev) => {
  const t = ev.target instanceof Element ? ev.target.closest('[data-cell-key].cell, [data-open-cell]') : null;
  if (!t) return;
  const key = t.getAttribute('data-cell-key') ?? t.getAttribute('data-open-cell');
  if (key !== null) openEvidence(key);
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !panel.hidden) closeEvidence();
});

// ---- filtering -------------------------------------------------------------------------------------------
function applyFilters(): void {
  const onlyProblems = fProblems.checked;
  const feature = fFeature.value;
  const workload = fWorkload.value;
  const client = fClient.value;
  document.querySelectorAll<HTMLElement>('table.matrix [data-client]').forEach((e) => {
    e.hidden = client !== '' && e.getAttribute('data-client') !== client;
  });
  let shownScenarios = 0;
  let shownCells = 0;
  for (const v of views) {
    let show = feature === '' || v.s.feature === feature;
    let visibleRows = 0;
    for (const r of v.rows) {
      const picked = client === '' ? undefined : r.cells[client];
      const cells = client === '' ? Object.values(r.cells) : picked ? [picked] : [];
      const rowShow = show && (workload === '' || r.workload === workload) && cells.length > 0 && (!onlyProblems || cells.some((c) => PROBLEM.has(c.verdict)));
      if (r.tr) r.tr.hidden = !rowShow;
      if (rowShow) {
        visibleRows++;
        shownCells += cells.length;
      }
    }
    if (show && visibleRows === 0) {
      const narrowed = onlyProblems || workload !== '' || client !== '';
      show = !narrowed || (onlyProblems && workload === '' && client === '' && v.problem);
    }
    v.section.hidden = !show;
    if (show) shownScenarios++;
  }
  status.textContent = 'showing ' + shownScenarios + ' of ' + views.length + ' scenario runs · ' + shownCells + ' cells';
  noMatch.hidden = shownScenarios > 0;
}

// Render in one fragment: one layout for thousands of cells.
const frag = document.createDocumentFragment();
run.scenarios.forEach((s, i) => frag.append(renderScenario(s, i)));
container.append(frag);
applyFilters();
const m = /^#cell=(.+)$/.exec(location.hash);
if (m?.[1]) {
  try {
    openEvidence(decodeURIComponent(m[1]));
  } catch {
    // a bad link
  }
}
document.documentElement.setAttribute('data-ready', 'true');
window.__meshconformReady = performance.now();
