import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type { Attachment, RunResult } from '../../src/model/index.js';
import { HTML_REPORT_FILE, REPORTER_NAMES, htmlChunks, htmlReporter, jsonForScript, renderHtml, validateRunResult } from '../../src/report/index.js';
import { HTML_ATTACHMENT_CHARS, type HtmlReportInput } from '../../src/report/html/html-reporter.js';
import { XSS, bigRun, hostileBaseline, hostileRun } from './html-fixtures.js';
import { CLIENT_SHORT_NAMES } from '../../src/report/client-labels.js';
import { bundleReportScript } from '../../src/report/html/report-script.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The JSON embedded in the page, parsed as the browser will. */
function embedded(html: string): { run: unknown; policyYaml: string[]; comparison: { regressions: unknown[] } | null; omittedAttachments: string[] } {
  const m = /<script type="application\/json" id="meshconform-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m, 'data script').to.not.equal(null);
  return JSON.parse(m![1]!) as never;
}

describe('html reporter (index.html)', () => {
  it('escapes "<" in embedded JSON so no data can close the script element', () => {
    const s = jsonForScript({ a: '</script><script>alert(1)</script>', b: '<!-- x', c: '\u2028' });
    expect(s).to.not.contain('<');
    expect(JSON.parse(s)).to.deep.equal({ a: '</script><script>alert(1)</script>', b: '<!-- x', c: '\u2028' });
  });

  it('embeds the RunResult unchanged and puts no hostile markup anywhere in the file', () => {
    const run = hostileRun();
    expect(validateRunResult(run)).to.deep.include({ valid: true });
    const html = renderHtml(run, { baseline: { file: 'old.json', result: hostileBaseline() } });
    expect(html).to.not.contain('<img');
    expect(html).to.not.contain('<svg');
    expect(html.match(/<\/script>/g)).to.have.length(3);
    const data = embedded(html);
    expect(data.run).to.deep.equal(JSON.parse(JSON.stringify(run)));
    expect(data.comparison?.regressions).to.have.length(2);
    expect(data.policyYaml[1]).to.contain(`name: ${XSS.marker}`);
  });

  it('streams index.html: the file, and htmlChunks joined, are exactly renderHtml, the whole string it used to be built as', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshconform-html-stream-'));
    try {
      const base = hostileRun();
      const separators = { ...base, scenarios: base.scenarios.map((s) => ({ ...s, description: `${s.description} \u2028 \u2029 <!-- </script>` })) };
      const input = { baseline: { file: 'old.json', result: hostileBaseline() } };
      const cases: [RunResult, HtmlReportInput][] = [
        [base, input],
        [separators, {}],
        [bigRun(4, 60), {}],
      ];
      for (const [i, [run, options]] of cases.entries()) {
        const out = join(dir, `run-${i}`);
        await htmlReporter(options).onRunEnd(run, out);
        const html = renderHtml(run, options);
        expect(readFileSync(join(out, HTML_REPORT_FILE), 'utf8')).to.equal(html);
        expect([...htmlChunks(run, options)].join('')).to.equal(html);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('embeds attachments up to a total, then leaves their text to the files beside the report', () => {
    const base = hostileRun();
    const mib = 'x'.repeat(1024 * 1024);
    const attachments: Attachment[] = Array.from({ length: 18 }, (_, i) => ({ id: `log-${i}`, label: `log ${i}`, mediaType: 'text/plain', text: mib }));
    const run: RunResult = { ...base, scenarios: [{ ...base.scenarios[0]!, attachments }, ...base.scenarios.slice(1)] };
    const html = renderHtml(run);
    const data = embedded(html);
    const kept = (data.run as RunResult).scenarios[0]!.attachments!;
    expect(kept.filter((a) => a.text.length > 0).map((a) => a.id)).to.deep.equal(attachments.slice(0, 16).map((a) => a.id));
    expect(data.omittedAttachments).to.deep.equal(['log-16', 'log-17']);
    expect(kept.map((a) => a.id)).to.deep.equal(attachments.map((a) => a.id));
    expect(html.length).to.be.below(HTML_ATTACHMENT_CHARS + 2 * 1024 * 1024);
    // A run within the bound is embedded unchanged.
    expect(embedded(renderHtml(base)).omittedAttachments).to.deep.equal([]);
  });

  it('is self-contained: no external URL, and a CSP that admits exactly the inlined scripts', () => {
    const html = renderHtml(hostileRun());
    expect(html).to.not.match(/<(script|link|img)[^>]+(src|href)=/i);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
    expect(csp).to.contain("default-src 'none'");
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).to.have.length(2);
    for (const code of scripts) expect(csp).to.contain(`'sha256-${createHash('sha256').update(code).digest('base64')}'`);
    expect(scripts[0]).to.contain('uPlot');
  });

  it('renders policies as YAML at build time', () => {
    const run = hostileRun();
    const data = embedded(renderHtml(run));
    expect(data.policyYaml[1]).to.match(/^apiVersion: security\.istio\.io\/v1\nkind: PeerAuthentication\n/);
    expect(data.policyYaml[0]).to.equal('');
  });

  it('writes index.html through the registry, and run writes it by default', async () => {
    expect(REPORTER_NAMES).to.include.members(['html', 'conformance']);
    const dir = mkdtempSync(join(tmpdir(), 'mc-html-unit-'));
    try {
      await htmlReporter().onRunEnd(hostileRun(), dir);
      expect(readFileSync(join(dir, HTML_REPORT_FILE), 'utf8')).to.match(/^<!doctype html>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const help = await execa(process.execPath, [join(root, 'bin/meshconform.js'), 'run', '--help'], { cwd: root });
    expect(help.stdout.replace(/\s+/g, ' ')).to.contain('(default: "console,json,junit,html")');
  });

  it('bundles the page script with the client labels the console uses, HBONE clients included', () => {
    const script = bundleReportScript();
    expect(script).to.not.match(/^\s*(import|export)\s/m, 'one self-contained browser script');
    // esbuild leaves identifier-like keys unquoted: `hbone: "hbone"`.
    for (const [kind, label] of Object.entries(CLIENT_SHORT_NAMES)) expect(script, kind).to.match(new RegExp(`(^|[\\s{,])("${kind}"|${kind}): "${label}"`, 'm'));
    expect(script).to.include('"hbone-no-client-cert": "hb-no-cert"');
  });
});
