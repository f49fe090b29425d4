// Figure 9 of `npm run bench`: the HTML report of a large run with evidence — file size, and how soon Chromium shows it.
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CellResult, ClientKind, Observation, RunResult, ScenarioResult, Summary } from '../src/model/index.js';
import { DIRECT_CLIENT_KINDS } from '../src/model/index.js';
import { renderHtml } from '../src/report/index.js';

const CHROMIUM = '/usr/bin/chromium';
const START = 1_780_000_000_000;
const timings = { startedAt: START, connectMs: 0.8, handshakeMs: 2.4, totalMs: 6.1 };

function summaryOf(cells: readonly CellResult[]): Summary {
  const n = (v: CellResult['verdict']) => cells.filter((c) => c.verdict === v).length;
  return { cells: cells.length, passed: n('pass'), failed: n('fail'), flaky: n('flaky'), errors: n('error'), skipped: n('skipped') };
}

/** 256 bytes a server might send first, as the probe records them. */
function firstBytes(): NonNullable<NonNullable<Observation['wire']>['firstBytes']> {
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37 + 11) % 256));
  return { hex: bytes.toString('hex'), text: [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''), total: 1380 };
}

/** A failing cell; with evidence, ~20 log lines, ~2 KiB of configuration and the wire evidence. */
function failing(c: CellResult, withEvidence: boolean): CellResult {
  const lines = Array.from({ length: 20 }, (_, i) => ({
    atMs: START - 1000 + i * 60,
    stream: i % 4 === 3 ? ('stderr' as const) : ('stdout' as const),
    text: `[2026-11-27T02:00:0${i % 10}.${100 + i}Z] conn ${c.workload}:${c.port} from 127.0.0.1:${41000 + i}: accepted plaintext, forwarding to the application`,
  }));
  const unit = `listener ${c.port}: { mode: STRICT, workload: ${c.workload}, peers: [spiffe://cluster.local/ns/*/sa/*] }\n`;
  const wire = {
    firstBytes: firstBytes(),
    chain: [
      { subject: 'O=cluster.local', issuer: 'O=cluster.local, CN=mesh root', sans: [`spiffe://cluster.local/ns/${c.workload.split('/')[0]}/sa/app`] },
      { subject: 'O=cluster.local, CN=mesh root', issuer: 'O=cluster.local, CN=mesh root', sans: [] },
    ],
  };
  const observed: Observation = {
    status: 'allowed',
    path: 'plaintext',
    echo: { workload: c.workload, port: c.port, received: 'plaintext', protocol: 'tcp' },
    timings,
    attempts: 2,
    ...(withEvidence ? { wire } : {}),
  };
  const failed: CellResult = { ...c, observed, observedOutcome: 'allow', verdict: 'fail', reason: 'expected deny but the application answered over plaintext' };
  if (!withEvidence) return failed;
  const config = { source: 'MESHCONFORM_WORKLOAD_CONFIG', text: unit.repeat(Math.ceil(2048 / unit.length)) };
  return { ...failed, evidence: { logs: { source: `data plane of ${c.workload}`, lines }, config } };
}

function passing(scenario: string, workload: string, port: number, client: ClientKind): CellResult {
  const allow = client === 'mtls-tcp' || client === 'mtls-http' || client === 'tls-no-istio-alpn';
  return {
    key: `${scenario}|sidecar|${workload}|${port}|${client}`,
    scenario,
    feature: 'bench',
    meshMode: 'sidecar',
    workload,
    port,
    protocol: 'tcp',
    client,
    expected: { mode: 'STRICT', outcome: allow ? 'allow' : 'deny', rule: 'R5.3 STRICT: only mesh mTLS is accepted' },
    observed: allow
      ? { status: 'allowed', path: 'mtls', echo: { workload, port, received: 'plaintext', protocol: 'tcp' }, timings, attempts: 1 }
      : { status: 'denied', how: 'tls-alert', alert: { code: 116, name: 'certificate required' }, detail: 'alert 116', timings, attempts: 1 },
    observedOutcome: allow ? 'allow' : 'deny',
    verdict: 'pass',
    reason: 'as expected',
    decidedBy: [{ level: 'workload', namespace: workload.split('/')[0]!, name: 'strict' }],
  };
}

/** 10 008 cells (139 scenarios × 8 rows × 9 clients), the first 1 000 plaintext-tcp cells failing with evidence. */
export function evidenceRun(withEvidence: boolean): RunResult {
  const scenarios: ScenarioResult[] = [];
  let failed = 0;
  for (let s = 0; s < 139; s++) {
    const name = `scale-${String(s).padStart(3, '0')}`;
    const cells: CellResult[] = [];
    for (let r = 0; r < 8; r++) {
      for (const client of DIRECT_CLIENT_KINDS) {
        const c = passing(name, `ns${s}/w${r}`, 8000 + r, client);
        const fails = client === 'plaintext-tcp' && failed < 1000;
        if (fails) failed++;
        cells.push(fails ? failing(c, withEvidence) : c);
      }
    }
    scenarios.push({
      name,
      file: `scenarios/bench/${name}.yaml`,
      feature: 'bench',
      meshMode: 'sidecar',
      description: '',
      summary: summaryOf(cells),
      lint: [],
      warnings: [],
      durationMs: 400,
      cells,
      policies: [],
    });
  }
  const all = scenarios.flatMap((x) => x.cells);
  return {
    apiVersion: 'meshconform.dev/v1alpha1',
    kind: 'RunResult',
    runId: '20261127T030000Z-5ca1e0',
    claim: 'spec',
    startedAt: '2026-11-27T02:00:00.000Z',
    finishedAt: '2026-11-27T02:10:00.000Z',
    durationMs: 600_000,
    harness: { name: 'meshconform', version: '0.1.0' },
    environment: { backend: 'local', dataPlane: 'exec:./vendor-proxy', node: process.version, platform: `${process.platform}-${process.arch}` },
    options: { retries: 1, concurrency: 32, timeoutMs: 3000, paths: ['scenarios/'], flags: { backend: 'local', 'data-plane': 'exec:./vendor-proxy', claim: 'spec', retries: 1 } },
    summary: summaryOf(all),
    lintErrors: 0,
    scenarios,
  };
}

interface Load {
  readonly dclMs: number;
  readonly readyMs: number;
  readonly paintMs: number;
  readonly openMs: number;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Opens the file `times` times in headless Chromium: DOMContentLoaded, page script done, first contentful paint, opening a failing cell's logs. */
async function loadTimes(file: string, times: number, logs: boolean): Promise<Load> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const loads: Load[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('html[data-ready=true]');
      await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 30_000 });
      const t = await page.evaluate(() => {
        // The browser's Performance (this file is typed against Node's).
        const perf = performance as unknown as { getEntriesByType(t: string): { domContentLoadedEventEnd: number }[] };
        const nav = perf.getEntriesByType('navigation')[0]!;
        const w = globalThis as unknown as { __meshconformReady: number };
        return { dclMs: nav.domContentLoadedEventEnd, readyMs: w.__meshconformReady, paintMs: performance.getEntriesByName('first-contentful-paint')[0]!.startTime };
      });
      const t0 = performance.now();
      await page.locator('[data-testid=cell][data-verdict=fail]').first().click();
      if (logs) {
        await page.locator('details[data-part=logs] > summary').click();
        await page.locator('[data-field=log-line]').first().waitFor();
      } else await page.getByTestId('evidence').waitFor();
      loads.push({ ...t, openMs: performance.now() - t0 });
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return {
    dclMs: median(loads.map((l) => l.dclMs)),
    readyMs: median(loads.map((l) => l.readyMs)),
    paintMs: median(loads.map((l) => l.paintMs)),
    openMs: median(loads.map((l) => l.openMs)),
  };
}

export async function benchHtmlReport(o: { work: string; fmt: (n: number, digits?: number) => string }): Promise<void> {
  const { fmt } = o;
  const dir = mkdtempSync(join(o.work, 'html-'));
  console.log('9. HTML report of 10 008 cells, 1 000 failing with evidence (20 log lines, ~2 KiB config, 256 first bytes and a 2-certificate chain each)');
  const files: Record<'with' | 'without', { file: string; renderMs: number; bytes: number }> = {} as never;
  for (const kind of ['with', 'without'] as const) {
    const run = evidenceRun(kind === 'with');
    const t0 = performance.now();
    const html = renderHtml(run);
    const renderMs = performance.now() - t0;
    const file = join(dir, `${kind}.html`);
    writeFileSync(file, html);
    files[kind] = { file, renderMs, bytes: statSync(file).size };
  }
  const mb = (b: number) => fmt(b / 1e6, 1) + ' MB';
  console.log(`   file ${mb(files.with.bytes)} (the same run without evidence: ${mb(files.without.bytes)}); written by renderHtml in ${fmt(files.with.renderMs)} ms`);
  if (!existsSync(CHROMIUM)) {
    console.log(`   load time: skipped (no Chromium at ${CHROMIUM})\n`);
    return;
  }
  const w = await loadTimes(files.with.file, 5, true);
  const wo = await loadTimes(files.without.file, 5, false);
  console.log(
    `   headless Chromium, median of 5: DOMContentLoaded ${fmt(w.dclMs)} ms, page drawn ${fmt(w.readyMs)} ms, first contentful paint ${fmt(w.paintMs)} ms after navigation start`,
  );
  console.log(`   without evidence:               DOMContentLoaded ${fmt(wo.dclMs)} ms, page drawn ${fmt(wo.readyMs)} ms, first contentful paint ${fmt(wo.paintMs)} ms`);
  console.log(`   open a failing cell and its log lines: ${fmt(w.openMs)} ms\n`);
}
