import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { RunResult } from '../../src/model/index.js';
import { cellReproduceCommand, compareRuns, renderHtml } from '../../src/report/index.js';
import { openReporters, writeOutputs } from '../../src/run/outputs.js';
import { citedRuleIds, parseSpec, plainRuleText } from '../../src/report/spec-rules.js';
import { requireCapability } from '../support/require.js';
import { XSS, bigRun, hostileBaseline, hostileRun } from './html-fixtures.js';
import { hostileEvidence, redactedKeyLog, withEvidence } from './evidence-fixtures.js';
import { PassThrough } from 'node:stream';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const CHROMIUM = '/usr/bin/chromium';
const STRICT_AND_PERMISSIVE = join(root, 'test/e2e/fixtures/scenarios/strict-and-permissive.yaml');
const HOSTILE_DIR = join(root, 'test/report/fixtures/hostile');
const OPEN_PROXY = `exec:${process.execPath} ${join(root, 'test/e2e/fixtures/data-planes/open-proxy.mjs')}`;
const SHOTS = join(root, 'reports');

/** A page plus everything it did that a safe, offline report must never do. */
interface Opened {
  readonly page: Page;
  readonly dialogs: string[];
  readonly errors: string[];
  readonly requests: string[];
}

async function cli(args: string[], tmp: string) {
  return execa(process.execPath, [bin, ...args], { cwd: root, env: { TMPDIR: tmp, NO_COLOR: '1' }, reject: false, timeout: 120_000 });
}

describe('HTML report in a real browser (Debian Chromium + playwright-core)', function () {
  this.timeout(180_000);
  let ctx: BrowserContext | undefined;
  let profile: string | undefined;
  let work: string;

  before(async function () {
    requireCapability(this, existsSync(CHROMIUM), 'Debian chromium at /usr/bin/chromium');
    work = mkdtempSync(join(tmpdir(), 'mc-html-'));
    profile = mkdtempSync(join(tmpdir(), 'mc-chromium-profile-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function open(file: string): Promise<Opened> {
    const page = await ctx!.newPage();
    const opened: Opened = { page, dialogs: [], errors: [], requests: [] };
    page.on('dialog', (d) => {
      opened.dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => opened.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') opened.errors.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('request', (r) => opened.requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-ready=true]');
    return opened;
  }

  /** Nothing ran, nothing loaded: no dialog, no marker, no element made from data, no request but the file itself. */
  async function expectInert(o: Opened, file: string): Promise<void> {
    expect(o.dialogs, 'dialogs opened').to.deep.equal([]);
    expect(await o.page.evaluate(() => (globalThis as unknown as { __xss?: unknown }).__xss), 'window.__xss').to.equal(undefined);
    expect(await o.page.locator('img, svg, iframe, object, embed').count(), 'elements made from data').to.equal(0);
    expect(await o.page.locator('script').count(), 'script elements').to.equal(3); // data, uPlot, report
    expect(o.errors, 'page and console errors (a CSP refusal would show here)').to.deep.equal([]);
    expect(o.requests, 'requests').to.deep.equal([pathToFileURL(file).href]);
  }

  /** A CSS attribute selector for a cell key, which may hold any character (JSON string escapes are valid CSS). */
  const cellSelector = (key: string): string => `[data-testid=cell][data-cell-key=${JSON.stringify(key)}]`;

  const scrollTop = (page: Page) => page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));

  const field = (o: Opened, name: string) => o.page.locator(`[data-testid=evidence] [data-field="${name}"]`).innerText();
  const visibleCells = (o: Opened) =>
    o.page
      .locator('[data-testid=cell]')
      .evaluateAll((els) => els.filter((e) => (e as unknown as { offsetParent: unknown }).offsetParent !== null).map((e) => e.getAttribute('data-cell-key')!));

  it('renders a real run: one cell per probe cell, evidence on click, filters, baseline comparison, hostile names inert', async () => {
    const tmp = mkdtempSync(join(work, 'tmp-'));
    // Last night: the reference data plane, everything passes.
    const baseOut = join(work, 'baseline');
    const base = await cli(['run', STRICT_AND_PERMISSIVE, HOSTILE_DIR, '--reporter', 'json', '--out', baseOut, '--local-subnet', '127.231', '--retries', '0'], tmp);
    expect(base.exitCode, base.stdout + base.stderr).to.equal(0);
    const baselineFile = join(baseOut, 'latest', 'report.json');
    // Tonight: a data plane that fails open, compared with last night.
    const out = join(work, 'out');
    const c = await cli(
      [
        'run',
        STRICT_AND_PERMISSIVE,
        HOSTILE_DIR,
        '--data-plane',
        OPEN_PROXY,
        '--reporter',
        'json,html',
        '--out',
        out,
        '--local-subnet',
        '127.232',
        '--retries',
        '0',
        '--baseline',
        baselineFile,
      ],
      tmp,
    );
    expect(c.exitCode, c.stdout + c.stderr).to.equal(1);
    expect(c.stderr).to.equal('');
    const report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    const cells = report.scenarios.flatMap((s) => s.cells);
    expect(report.summary.failed).to.be.greaterThan(0);

    const file = join(out, 'latest', 'index.html');
    const o = await open(file);
    const { page } = o;

    // One matrix cell per probe cell, with the same key and verdict.
    const shown = await page.locator('[data-testid=cell]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-cell-key'), e.getAttribute('data-verdict')]));
    expect(shown).to.have.length(report.summary.cells);
    expect(new Map(shown as [string, string][])).to.deep.equal(new Map(cells.map((x) => [x.key, x.verdict])));
    expect(await page.getByTestId('count-fail').locator('.n').innerText()).to.equal(String(report.summary.failed));

    // A failing cell's evidence: what was seen and why the opposite was expected.
    const plain = cells.find((x) => x.scenario === 'strict-and-permissive' && x.workload === 'foo/finance' && x.port === 8080 && x.client === 'plaintext-tcp')!;
    expect(plain.verdict).to.equal('fail');
    await page.locator(cellSelector(plain.key)).click();
    await page.getByTestId('evidence').waitFor({ state: 'visible' });
    expect(await field(o, 'title')).to.equal('foo/finance:8080 plaintext-tcp');
    expect(await field(o, 'expected-outcome')).to.equal('deny');
    expect(await field(o, 'expected-mode')).to.equal('STRICT');
    expect(await field(o, 'observed-outcome')).to.equal('allow');
    expect(await field(o, 'path')).to.equal('plaintext');
    expect(await field(o, 'echo')).to.contain('foo/finance:8080');
    expect(await field(o, 'rule')).to.equal(plain.expected.rule);
    expect(await field(o, 'decided-by')).to.contain('namespace level: foo/default');
    expect(await field(o, 'tls-version')).to.equal('no TLS');
    expect(await field(o, 'attempts')).to.equal('1');
    expect(await field(o, 'timings')).to.match(/total \d+(\.\d+)? ms/);
    expect(await field(o, 'baseline')).to.equal('baseline verdict: pass (regression)');

    // A TLS cell shows the handshake evidence.
    const tlsCell = cells.find((x) => x.workload === 'bar/web' && x.client === 'mtls-tcp')!;
    await page.locator(cellSelector(tlsCell.key)).click();
    expect(await field(o, 'tls-version')).to.equal(tlsCell.observed?.tls?.version);
    expect(await field(o, 'alpn')).to.equal(tlsCell.observed?.tls?.alpn ?? 'none negotiated');
    expect(await field(o, 'server-identity')).to.equal(tlsCell.observed?.tls?.serverIdentity ?? 'no SPIFFE ID');
    await page.getByTestId('evidence-close').click();
    expect(await page.getByTestId('evidence').isVisible()).to.equal(false);

    // The comparison with last night.
    const expected = compareRuns(JSON.parse(readFileSync(baselineFile, 'utf8')) as RunResult, report);
    expect(expected.regressions.length).to.be.greaterThan(0);
    expect(await page.getByTestId('comparison-count-regressions').locator('.n').innerText()).to.equal(String(expected.regressions.length));
    expect(await page.locator('[data-testid=cell][data-change=regression]').count()).to.equal(expected.regressions.length);

    // Filters: feature, then client, then failures only within one workload.
    await page.getByTestId('filter-feature').selectOption('e2e');
    const scenarios = await page
      .locator('[data-testid=scenario]')
      .evaluateAll((els) => els.filter((e) => !(e as unknown as { hidden: boolean }).hidden).map((e) => e.getAttribute('data-scenario')));
    expect(scenarios).to.deep.equal(['strict-and-permissive']);
    await page.getByTestId('filter-client').selectOption('mtls-tcp');
    const mtlsOnly = await visibleCells(o);
    expect(mtlsOnly).to.have.length(3);
    expect(mtlsOnly.every((k) => k.endsWith('|mtls-tcp'))).to.equal(true);
    await page.getByTestId('filter-client').selectOption('');
    await page.getByTestId('filter-workload').selectOption('bar/web');
    await page.getByTestId('filter-failures').check();
    const problems = await visibleCells(o);
    const webCells = cells.filter((x) => x.workload === 'bar/web');
    expect(problems.sort()).to.deep.equal(webCells.map((x) => x.key).sort()); // the row has a failure, so it shows whole
    expect(await page.getByTestId('filter-status').innerText()).to.equal(`showing 1 of ${report.scenarios.length} scenario runs · ${webCells.length} cells`);
    await page.getByTestId('filter-failures').uncheck();
    await page.getByTestId('filter-workload').selectOption('');
    await page.getByTestId('filter-feature').selectOption('');

    // The hostile scenario: its markup is text.
    const hostile = report.scenarios.find((s) => s.name === 'hostile-names')!;
    expect(hostile.feature).to.equal('hostile');
    const section = page.locator('[data-testid=scenario][data-scenario=hostile-names]');
    expect(await section.getByTestId('scenario-description').evaluate((e) => e.textContent)).to.equal(hostile.description);
    expect(await section.locator('.meta').first().innerText()).to.contain('feature hostile');
    await section.getByTestId('policies').locator('summary').click();
    expect(await section.getByTestId('policies-yaml').innerText()).to.contain("window.__xss='annotation'");
    expect(await page.getByTestId('filter-feature').locator('option').allTextContents()).to.include('hostile');
    await expectInert(o, file);

    // Screenshot with a failing cell's evidence open.
    await page.locator(cellSelector(plain.key)).click();
    await scrollTop(page); // the filter bar is sticky and the evidence panel fixed: draw them at the top of the shot
    await page.screenshot({ path: join(SHOTS, 'html-report-test.png'), fullPage: true });
    await page.close();
  });

  it('renders names the loader would reject as text, and a chaos timeline with uPlot', async () => {
    const run = hostileRun();
    const file = join(work, 'hostile.html');
    writeFileSync(file, renderHtml(run, { baseline: { file: `nightly ${XSS.alert}.json`, result: hostileBaseline() } }));
    const o = await open(file);
    const { page } = o;

    expect(await page.locator('[data-testid=cell]').count()).to.equal(run.summary.cells);
    expect(await page.getByTestId('scenario-name').allTextContents()).to.include(XSS.marker);
    expect(await page.locator('th.row').allTextContents()).to.include(`${XSS.alert}/${XSS.svg}:8080`);
    const failing = run.scenarios[1]!.cells.find((c) => c.verdict === 'fail')!;
    await page.locator(cellSelector(failing.key)).click();
    expect(await field(o, 'decided-by')).to.equal(`workload level: ${XSS.alert}/${XSS.marker}`);
    expect(await field(o, 'reason')).to.contain(XSS.script);
    expect(await page.getByTestId('comparison').innerText()).to.contain(`nightly ${XSS.alert}.json`);
    expect(await page.getByTestId('comparison-count-regressions').locator('.n').innerText()).to.equal('2');
    expect(await page.getByTestId('comparison-count-timeToEnforce').locator('.n').innerText()).to.equal('1');
    await page.getByTestId('evidence-close').click();

    // The timeline: a uPlot canvas with the fault band and the fail-open points drawn, and its text summary.
    const timeline = page.locator('[data-testid=scenario][data-scenario=chaos-kill] [data-testid=timeline]');
    expect(await timeline.locator('.uplot canvas').count()).to.equal(1);
    const pixels = await timeline.locator('.uplot canvas').evaluate((canvas) => {
      // No DOM lib in this project's tsconfig: the canvas API is typed by hand.
      const c = canvas as unknown as {
        width: number;
        height: number;
        getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let red = 0;
      let band = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!];
        if (r > 200 && g < 40 && b < 40 && a > 200) red++; // fail-open points (#d50000)
        if (r > 240 && g > 130 && g < 175 && b < 30 && a > 35 && a < 70) band++; // the translucent fault band (the canvas is transparent)
      }
      return { width: c.width, red, band };
    });
    expect(pixels.width).to.be.greaterThan(0);
    expect(pixels.red, 'fail-open points drawn').to.be.greaterThan(0);
    expect(pixels.band, 'fault band drawn').to.be.greaterThan(1000);
    expect(await timeline.locator('.u-legend').innerText()).to.contain('FAIL-OPEN');
    const summary = await timeline.getByTestId('timeline-summary').innerText();
    expect(summary).to.contain('fault kill data plane of foo/finance: 2.00 s – 4.00 s');
    expect(summary).to.contain('5.00 s: apply finance-strict');
    expect(summary).to.contain('13 fail-open probe(s), first at 2.00 s');
    expect(summary).to.contain('time to enforce: 1.20 s');

    await expectInert(o, file);
    await scrollTop(page);
    await page.screenshot({ path: join(SHOTS, 'html-report-timeline.png'), fullPage: true });
    await page.close();
  });

  it('names the claim, counts passes that differ from Istio and notes it on the cell', async () => {
    const base = hostileBaseline();
    let key = '';
    const scenarios = base.scenarios.map((sc) => ({
      ...sc,
      cells: sc.cells.map((c) => {
        if (key !== '' || c.verdict !== 'pass' || c.expected.outcome !== 'deny' || c.observed?.status !== 'denied') return c;
        key = c.key;
        return {
          ...c,
          expected: { ...c.expected, required: ['deny', 'allow'] as const, requiredRule: 'R5.9 relayed at L4' },
          differsFromIstio: true as const,
          observedOutcome: 'allow' as const,
        };
      }),
    }));
    expect(key).to.not.equal('');
    const run: RunResult = { ...base, claim: 'spec', scenarios, summary: { ...base.summary, differsFromIstio: 1 } };
    const file = join(work, 'claim.html');
    writeFileSync(file, renderHtml(run));
    const o = await open(file);
    const { page } = o;
    expect(await page.getByTestId('run-meta').innerText()).to.contain('claim spec');
    expect(await page.getByTestId('count-differs').locator('.n').innerText()).to.equal('1');
    expect(await page.locator(cellSelector(key)).innerText()).to.equal('✓ allow^');
    await page.locator(cellSelector(key)).click();
    await page.getByTestId('evidence').waitFor({ state: 'visible' });
    expect(await field(o, 'required-outcomes')).to.equal('deny or allow');
    expect(await field(o, 'differs-from-istio')).to.contain('Istio gives deny here');
    expect(o.errors).to.deep.equal([]);
    await page.close();
  });

  it("embeds the text of every cited docs/spec.md rule and links each cell's rule ids to it", async () => {
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const out = join(work, 'rules');
    // Run from another working directory: the reporter must find docs/spec.md from its own location.
    const c = await execa(process.execPath, [bin, 'run', STRICT_AND_PERMISSIVE, '--reporter', 'json,html', '--out', out, '--local-subnet', '127.233', '--retries', '0'], {
      cwd: tmp,
      env: { TMPDIR: tmp, NO_COLOR: '1' },
      reject: false,
      timeout: 120_000,
    });
    expect(c.exitCode, c.stdout + c.stderr).to.equal(0);
    const report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    const cells = report.scenarios.flatMap((s) => s.cells);
    const spec = parseSpec(readFileSync(join(root, 'docs', 'spec.md'), 'utf8')).rules;
    const cited = new Set(cells.flatMap((x) => [x.expected.rule, x.expected.requiredRule ?? ''].flatMap((r) => citedRuleIds(r))));
    expect(cited.size).to.be.greaterThan(2);

    const o = await open(join(out, 'latest', 'index.html'));
    const { page } = o;
    // One embedded section per cited rule, holding the rule's own text from docs/spec.md.
    const embedded = await page.locator('[data-testid=spec-rules] section.rule').evaluateAll((els) => els.map((e) => [e.id, e.getAttribute('data-rule')]));
    expect(new Set(embedded.map((e) => e[1]))).to.deep.equal(cited);
    for (const [id, rule] of embedded) expect(id).to.equal(`rule-${rule}`);
    const strict = spec.get('R5.3')!;
    const section = page.locator('#spec-rules section.rule[data-rule="R5.3"]');
    expect(await section.locator('h3').innerText()).to.equal(`R5.3 ${strict.title}`);
    expect(await section.locator('.rule-body').innerText()).to.equal(plainRuleText(strict.text));

    // A STRICT plaintext cell: its rule id links to that section, and the drill-down shows the rule's text.
    const cell = cells.find((x) => x.workload === 'foo/finance' && x.port === 8080 && x.client === 'plaintext-tcp')!;
    expect(cell.expected.rule).to.match(/^R5\.3 /);
    await page.locator(cellSelector(cell.key)).click();
    await page.getByTestId('evidence').waitFor({ state: 'visible' });
    expect(await field(o, 'rule')).to.equal(cell.expected.rule);
    const link = page.locator('[data-testid=evidence] [data-field=rule] a.rule-ref');
    expect(await link.evaluateAll((els) => els.map((e) => [e.textContent, e.getAttribute('href')]))).to.deep.equal([['R5.3', '#rule-R5.3']]);
    expect(await field(o, 'rule-text')).to.contain(plainRuleText(strict.text).split('\n')[0]!);
    await link.click();
    expect(await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash)).to.equal('#rule-R5.3');
    expect(await page.locator('#spec-rules section.rule:target').getAttribute('data-rule')).to.equal('R5.3');
    expect(await section.isVisible()).to.equal(true);
    expect(o.errors).to.deep.equal([]);
    expect(o.requests).to.deep.equal([pathToFileURL(join(out, 'latest', 'index.html')).href]);
    await page.close();
  });

  it("opens a failing cell to the data plane's evidence, collapsed: logs, config, attachments, wire, rerun command; hostile evidence inert", async () => {
    const key = redactedKeyLog();
    expect(key).to.contain('PRIVATE KEY----- [redacted]');
    const base = withEvidence(hostileRun(), { attachments: true });
    const si = 1; // the scenario with hostile names
    const target = base.scenarios[si]!.cells.find((c) => c.verdict === 'fail')!;
    const bad = hostileEvidence(target, key);
    const cell = { ...target, observed: { ...target.observed!, wire: bad.wire }, evidence: bad.evidence };
    const scenarios = base.scenarios.map((s, i) => (i === si ? { ...s, cells: s.cells.map((c) => (c.key === cell.key ? cell : c)), attachments: bad.attachments } : s));
    const run: RunResult = { ...base, scenarios, options: { ...base.options, flags: { ...base.options.flags, 'data-plane': `exec:./proxy ${XSS.script}`, defect: [XSS.alert] } } };
    // Written as a run writes it: the attachments land beside index.html.
    const outRoot = join(work, 'evidence-out');
    const runDir = await writeOutputs(run, openReporters(['json', 'html'], new PassThrough()), outRoot);
    expect(readdirSync(join(runDir, 'evidence')).sort()).to.deep.equal(['s0-data-plane-log.txt', 's2-data-plane-log.txt', 'whole-log.txt']);
    const file = join(runDir, 'index.html');
    const o = await open(file);
    const { page } = o;

    const matrixCell = page.locator(cellSelector(cell.key));
    expect(await matrixCell.getAttribute('data-evidence')).to.equal('true');
    await matrixCell.click();
    await page.getByTestId('evidence').waitFor({ state: 'visible' });
    const part = (name: string) => page.locator(`[data-testid=evidence] details[data-part=${name}]`);
    // Collapsed until asked.
    for (const name of ['logs', 'config', 'wire']) expect(await part(name).evaluate((d) => (d as unknown as { open: boolean }).open), name).to.equal(false);
    expect(await page.locator('[data-testid=evidence] [data-field=log-line]').first().isVisible()).to.equal(false);

    // Log lines: time, stream, text as text; control characters and bidi overrides visible; 200 drawn, the rest counted.
    await part('logs').locator('summary').click();
    const lines = page.locator('[data-testid=evidence] [data-field=log-line]');
    expect(await lines.count()).to.equal(200);
    expect(await lines.nth(0).locator('td.x').innerText()).to.equal(`0 ${XSS.script}`);
    expect(await lines.nth(0).locator('td.t').innerText()).to.match(/^\d\d:\d\d:\d\d\.\d{3} \(−900 ms\)$/);
    expect(await lines.nth(1).locator('td.s').innerText()).to.equal('stderr');
    expect(await lines.nth(2).locator('td.x').innerText()).to.equal('2 \\u001b[31mred\\u001b[0m\\u0000nul\\u0007bell');
    expect(await lines.nth(3).locator('td.x').innerText()).to.equal('3 left \\u202eright-to-left\\u202c');
    expect(await lines.nth(4).locator('td.x').innerText()).to.contain('-----BEGIN PRIVATE KEY----- [redacted] -----END PRIVATE KEY-----');
    expect(await field(o, 'logs-more')).to.equal('… 50 more lines (in report.json)');

    // The configuration the data plane held.
    await part('config').locator('summary').click();
    expect(await field(o, 'config')).to.equal(bad.evidence.config!.text);
    expect(await part('config').locator('summary').innerText()).to.contain(XSS.alert);

    // Attachments: links beside the report; an id that would leave the folder and an unknown id are not links.
    const items = page.locator('[data-testid=evidence] [data-field=attachments] li');
    expect(await items.count()).to.equal(3);
    const link = page.locator('[data-testid=evidence] [data-field=attachment-link]');
    expect(await link.evaluateAll((els) => els.map((e) => [e.getAttribute('href'), e.textContent]))).to.deep.equal([['evidence/whole-log.txt', `whole log ${XSS.marker}`]]);
    expect(await items.nth(1).innerText()).to.equal('../../escape (not kept)');
    expect(await items.nth(2).innerText()).to.equal('missing-one (not kept)');

    // What came over the wire.
    await part('wire').locator('summary').click();
    const bytes = await field(o, 'wire-bytes');
    expect(bytes.split('\n')[0]).to.equal('0000  48 54 54 50 2f 31 2e 31  20 34 30 30 20 3c 2f 73  |HTTP/1.1 400 </s|');
    expect(await field(o, 'wire-chain'))
      .to.contain(`subject CN=${XSS.marker}`)
      .and.contain(`issuer CN=${XSS.script}`)
      .and.contain(XSS.svg);

    // The command that reruns exactly this cell.
    const command = await field(o, 'reproduce');
    expect(command).to.equal(cellReproduceCommand(run, cell));
    expect(command).to.match(/^npx meshconform run 'scenarios\/<\/script><script>.*\.yaml' --only-cell '.*' --backend local --data-plane 'exec:\.\/proxy <\/script>/);

    // Nothing ran; no key material, only its redaction.
    await expectInert(o, file);
    const html = await page.content();
    expect(html).to.not.match(/PRIVATE KEY-----\s*MII/);
    expect(html).to.not.match(/MII[A-Za-z0-9+/]{20}/);
    await scrollTop(page);
    await page.screenshot({ path: join(SHOTS, 'html-report-evidence.png'), fullPage: true });

    // The attachment link opens the file beside the report, as text.
    await link.click();
    await page.waitForURL(/evidence\/whole-log\.txt$/);
    expect(await page.locator('body').innerText()).to.contain(XSS.script);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: unknown }).__xss)).to.equal(undefined);
    expect(o.dialogs).to.deep.equal([]);
    await page.close();
  });

  it("a planted defect, run through the CLI: every failing cell opens to the misbehaving proxy's log lines and configuration", async () => {
    const out = join(work, 'defect-out');
    const scenario = join(root, 'scenarios/core/multi-namespace-mix.yaml');
    const r = await cli(['run', scenario, '--defect', 'strict-accepts-plaintext', '--out', out, '--reporter', 'json,html'], work);
    expect(r.exitCode, r.stderr).to.equal(1);
    const run = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    const failing = run.scenarios.flatMap((s) => s.cells).filter((c) => c.verdict === 'fail');
    expect(failing.length).to.be.greaterThan(0);
    const o = await open(join(out, 'latest', 'index.html'));
    const { page } = o;
    const part = (name: string) => page.locator(`[data-testid=evidence] details[data-part=${name}]`);
    for (const cell of failing) {
      await page.locator(cellSelector(cell.key)).click();
      await page.getByTestId('evidence').waitFor({ state: 'visible' });
      await part('logs').locator('summary').click();
      const lines = await page.locator('[data-testid=evidence] [data-field=log-line]').allInnerTexts();
      // The reference sidecar's own access log: the STRICT port let plaintext through.
      const workload = cell.workload;
      expect(lines.join('\n'), cell.key).to.match(new RegExp(`${workload.replace('/', '\\/')}:${cell.port} STRICT/tcp plaintext -> plaintext`));
      await part('config').locator('summary').click();
      const config = await field(o, 'config');
      expect(config, cell.key).to.contain('"mode": "STRICT"');
      expect(config, cell.key).to.contain(`"name": "${workload.split('/')[1]}"`);
      expect(await field(o, 'reproduce'))
        .to.contain(`--only-cell '${cell.key}'`)
        .and.contain('--defect strict-accepts-plaintext');
    }
    const attachments = readdirSync(join(out, 'latest', 'evidence'));
    expect(attachments.length).to.be.greaterThan(0);
    await expectInert(o, join(out, 'latest', 'index.html'));
    await page.close();
  });

  it('stays usable with 10 008 cells (load time is printed, not asserted)', async () => {
    const run = bigRun(139, 8);
    const file = join(work, 'big.html');
    writeFileSync(file, renderHtml(run));
    const t0 = Date.now();
    const o = await open(file);
    const wall = Date.now() - t0;
    const ready = await o.page.evaluate(() => (globalThis as unknown as { __meshconformReady: number }).__meshconformReady);
    expect(await o.page.locator('[data-testid=cell]').count()).to.equal(10_008);
    const f0 = Date.now();
    await o.page.getByTestId('filter-failures').check();
    await o.page
      .getByTestId('filter-status')
      .filter({ hasText: `${139 * 9} cells` })
      .waitFor();
    const filter = Date.now() - f0;
    const f1 = Date.now();
    await o.page.locator('[data-testid=cell][data-verdict=fail]').first().click();
    await o.page.getByTestId('evidence').waitFor({ state: 'visible' });
    const click = Date.now() - f1;
    const mb = (statSync(file).size / 1e6).toFixed(1);
    console.log(
      `      10 008 cells: ${mb} MB file; ready ${ready.toFixed(0)} ms after navigation start; goto→ready ${wall} ms; failures filter ${filter} ms; open evidence ${click} ms`,
    );
    await o.page.close();
  });
});
