import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RunResult } from '../../model/index.js';
import { clientColumns } from '../../util/truth-rows.js';
import { compareRuns } from '../compare-runs.js';
import { featureResults, profileResults } from '../profile-results.js';
import { defaultProfiles, type ConformanceProfile } from '../profiles.js';
import type { Reporter, ReporterOptions } from '../reporter.js';
import { jsonChunks } from '../json-chunks.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { citedRuleIds, plainRuleText, specRules } from '../spec-rules.js';
import type { PageData, RuleText } from './page-data.js';
import { reportScript } from './report-script.js';

export const HTML_REPORT_FILE = 'index.html';

export interface HtmlReportInput {
  /** An earlier run to compare with (`--baseline`); `file` is shown as its name. */
  readonly baseline?: { readonly file: string; readonly result: RunResult };
  readonly profiles?: readonly ConformanceProfile[];
}

interface Assets {
  readonly css: string;
  readonly scripts: readonly string[];
}

let assets: Assets | undefined;

/** The page's CSS and scripts: ours, plus uPlot (pinned in package.json) inlined so the file works offline. */
function loadAssets(): Assets {
  if (!assets) {
    const require = createRequire(import.meta.url);
    const own = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
    const lib = (name: string) => readFileSync(require.resolve(`uplot/dist/${name}`), 'utf8');
    assets = { css: lib('uPlot.min.css') + '\n' + own('report.css'), scripts: [lib('uPlot.iife.min.js'), reportScript()] };
  }
  return assets;
}

/** JSON that is safe inside a <script> element: no `<` can start `</script>` or `<!--`. */
export function jsonForScript(value: unknown): string {
  return scriptSafe(JSON.stringify(value));
}

function scriptSafe(json: string): string {
  return json
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// Inlined code must not contain a closing tag for its own element.
function inline(code: string, tag: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1');
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

function policyId(manifest: unknown): { namespace: string; name: string } {
  const meta = (manifest as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  return { namespace: typeof meta?.namespace === 'string' ? meta.namespace : '', name: typeof meta?.name === 'string' ? meta.name : '' };
}

/** Attachment text the page embeds in all; beyond it, attachments are only the files beside the report. */
export const HTML_ATTACHMENT_CHARS = 16 * 1024 * 1024;

/** The run as the page embeds it: untouched, unless its attachments outgrow the page (their text is then left out, in order). */
function embeddedRun(result: RunResult): { run: RunResult; omitted: string[] } {
  let left = HTML_ATTACHMENT_CHARS;
  const omitted: string[] = [];
  const scenarios = result.scenarios.map((s) => {
    if (!s.attachments) return s;
    const attachments = s.attachments.map((a) => {
      if (a.text.length <= left) {
        left -= a.text.length;
        return a;
      }
      omitted.push(a.id);
      return { ...a, text: '' };
    });
    return { ...s, attachments };
  });
  return omitted.length === 0 ? { run: result, omitted } : { run: { ...result, scenarios }, omitted };
}

/** The view data the page renders: the RunResult untouched (but for outsized attachments), plus what is easier to compute in Node. */
function pageData(result: RunResult, input: HtmlReportInput): PageData {
  const policyDocs = result.scenarios.map((s) => s.policies.map((p) => ({ ...policyId(p), yaml: stringify(p, { lineWidth: 0 }) })));
  const { run, omitted } = embeddedRun(result);
  return {
    run,
    omittedAttachments: omitted,
    clients: clientColumns(result.scenarios.flatMap((s) => s.cells)),
    policyDocs,
    policyYaml: policyDocs.map((docs) => docs.map((d) => d.yaml).join('---\n')),
    profiles: profileResults(result, input.profiles ?? defaultProfiles()),
    features: featureResults(result),
    comparison: input.baseline ? { file: input.baseline.file, ...compareRuns(input.baseline.result, result) } : null,
    rules: citedRules(result),
  };
}

/** The text of every rule the run's cells cite, from the package's docs/spec.md, so the offline page can show it. */
function citedRules(result: RunResult): Record<string, RuleText> {
  const all = specRules();
  const ids = new Set<string>();
  for (const s of result.scenarios) for (const c of s.cells) for (const t of [c.expected.rule, c.expected.requiredRule]) if (t) for (const id of citedRuleIds(t)) ids.add(id);
  const out: Record<string, RuleText> = {};
  for (const id of [...ids].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const r = all.get(id);
    if (r) out[id] = { id, title: r.title, text: plainRuleText(r.text) };
  }
  return out;
}

/** The page around its data: everything before the JSON of #meshconform-data, and everything after it. */
function pageFrame(): { head: string; tail: string } {
  const { css, scripts } = loadAssets();
  const code = scripts.map((s) => inline(s, 'script'));
  const csp = [
    "default-src 'none'",
    `script-src ${code.map((c) => `'sha256-${sha256(c)}'`).join(' ')}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const head = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>meshconform report</title>',
    `<style>${inline(css, 'style')}</style>`,
    '</head>',
    '<body>',
    '<main id="app"><noscript>This report needs JavaScript; its data is embedded in this file as JSON (#meshconform-data).</noscript></main>',
    '<script type="application/json" id="meshconform-data">',
  ].join('\n');
  const tail = ['</script>', ...code.map((c) => `<script>${c}</script>`), '</body>', '</html>', ''].join('\n');
  return { head, tail };
}

/**
 * index.html: one offline file with the run embedded as JSON and rendered by inlined vanilla JS. A
 * Content-Security-Policy admits only the inlined scripts (by hash), so even markup that slipped into the page
 * could not run; the page itself inserts every string as text.
 */
export function renderHtml(result: RunResult, input: HtmlReportInput = {}): string {
  const { head, tail } = pageFrame();
  return head + jsonForScript(pageData(result, input)) + tail;
}

/** renderHtml's text in pieces, the embedded run among them piece by piece: a scale run's page is never one string. */
export function* htmlChunks(result: RunResult, input: HtmlReportInput = {}): Generator<string, void, undefined> {
  const { head, tail } = pageFrame();
  yield head;
  // Each escape replaces one character, so escaping piece by piece is escaping the whole.
  for (const piece of jsonChunks(pageData(result, input), '')) yield scriptSafe(piece);
  yield tail;
}

export function htmlReporter(options: ReporterOptions = {}): Reporter {
  return {
    name: 'html',
    onRunEnd: (result, outDir) => writeFileAtomic(join(outDir, HTML_REPORT_FILE), htmlChunks(result, options)),
  };
}
