// The evidence a vendor can act on, in a cell's drill-down: the data plane's log lines and configuration, the
// scenario's attachments, what came over the wire, and the command that reruns the cell. Every part is collapsed
// until opened, and every size is capped here too: the producers bound the data, the page bounds what it draws.
import type { Attachment, CellEvidence, CellResult, Observation, RunResult, ScenarioResult, WireEvidence } from '../../../model/index.js';
import { attachmentPath } from '../../evidence-paths.js';
import { cellReproduceCommand } from '../../reproduce-cell.js';
import { h, kv, shown, type KvRow } from './dom.js';

/** Log lines drawn per cell; the rest are counted ("… N more lines"). */
export const MAX_LOG_LINES = 200;
/** Characters of an attachment drawn inline; the whole text is the file beside the report. */
const MAX_INLINE_CHARS = 100_000;
const PROBLEM = new Set(['fail', 'flaky', 'error']);

/** Everything below "Observed" in the drill-down of `c`. */
export function cellEvidence(run: RunResult, s: ScenarioResult, c: CellResult, omitted: ReadonlySet<string>): DocumentFragment {
  const out = document.createDocumentFragment();
  const problem = PROBLEM.has(c.verdict);
  if (c.evidence) out.append(h('h3', null, 'The data plane’s side'), dataPlaneEvidence(c.evidence, s, c.observed?.timings.startedAt, omitted));
  else if (problem)
    out.append(
      h('h3', null, 'The data plane’s side'),
      h(
        'p',
        { class: 'empty', 'data-field': 'no-evidence' },
        'No log lines or configuration were kept for this cell (the backend has no evidence channel, or the run’s evidence budget was spent).',
      ),
    );
  if (c.observed && hasWireEvidence(c.observed)) out.append(wireEvidence(c.observed));
  if (problem) {
    out.append(
      h('h3', null, 'Reproduce'),
      h('p', { class: 'meta' }, 'Reruns exactly this cell, with the flags of this run that change what it observes:'),
      h('pre', { class: 'reproduce', 'data-field': 'reproduce' }, cellReproduceCommand(run, c)),
    );
  }
  return out;
}

function dataPlaneEvidence(e: CellEvidence, s: ScenarioResult, probeStart: number | undefined, omitted: ReadonlySet<string>): DocumentFragment {
  const out = document.createDocumentFragment();
  if (e.logs) out.append(logsDetails(e.logs, probeStart));
  if (e.config) {
    out.append(
      h(
        'details',
        { class: 'evidence-part', 'data-part': 'config' },
        h('summary', null, 'Configuration it held · ' + shown(e.config.source) + (e.config.truncated ? ' (cut to its bound: the start kept)' : '')),
        h('pre', { 'data-field': 'config' }, shown(e.config.text)),
      ),
    );
  }
  if (e.attachments?.length) out.append(attachmentList(e.attachments, s.attachments ?? [], omitted));
  return out;
}

function iso(atMs: number): string {
  const d = new Date(atMs);
  return Number.isNaN(d.getTime()) ? String(atMs) : d.toISOString();
}

/** Time of day (UTC) to the millisecond: the window is seconds long, the date is the run's. */
function clock(atMs: number): string {
  const t = iso(atMs);
  return t.length === 24 ? t.slice(11, 23) : t;
}

function offset(atMs: number, probeStart: number | undefined): string {
  if (probeStart === undefined) return '';
  const d = atMs - probeStart;
  return ' (' + (d >= 0 ? '+' : '−') + Math.abs(d).toFixed(0) + ' ms)';
}

function logsDetails(logs: NonNullable<CellEvidence['logs']>, probeStart: number | undefined): HTMLDetailsElement {
  const n = logs.lines.length;
  const summary = 'Log lines around the probe: ' + n + ' · ' + shown(logs.source) + (logs.truncated ? ' (cut to its bound: the last lines kept)' : '');
  const body = h('tbody');
  for (const l of logs.lines.slice(0, MAX_LOG_LINES)) {
    body.append(
      h(
        'tr',
        { 'data-field': 'log-line', class: 's-' + (l.stream === 'stderr' ? 'stderr' : 'stdout') },
        h('td', { class: 't', title: iso(l.atMs) }, clock(l.atMs) + offset(l.atMs, probeStart)),
        h('td', { class: 's' }, l.stream === 'stderr' ? 'stderr' : 'stdout'),
        h('td', { class: 'x' }, shown(l.text)),
      ),
    );
  }
  return h(
    'details',
    { class: 'evidence-part', 'data-part': 'logs' },
    h('summary', null, summary),
    n === 0 ? h('p', { class: 'empty' }, 'the data plane wrote nothing in the probe’s window') : h('table', { class: 'log', 'data-field': 'logs' }, body),
    n > MAX_LOG_LINES ? h('p', { class: 'meta', 'data-field': 'logs-more' }, '… ' + (n - MAX_LOG_LINES) + ' more lines (in report.json)') : null,
  );
}

function attachmentList(ids: readonly string[], all: readonly Attachment[], omitted: ReadonlySet<string>): HTMLElement {
  const list = h('ul', { class: 'attachments', 'data-field': 'attachments' });
  for (const id of ids) {
    const a = all.find((x) => x.id === id);
    const path = a ? attachmentPath(a) : undefined;
    if (!a || !path) {
      list.append(h('li', { class: 'empty' }, shown(id) + ' (not kept)'));
      continue;
    }
    if (omitted.has(a.id)) {
      list.append(
        h('li', { 'data-attachment': a.id }, h('a', { href: path, 'data-field': 'attachment-link' }, shown(a.label)), ' · ' + path + ' (not embedded in this page: too large)'),
      );
      continue;
    }
    const size = a.text.length < 1024 ? a.text.length + ' characters' : (a.text.length / 1024).toFixed(1) + ' K characters';
    const inline = h('details', { class: 'evidence-part', 'data-part': 'attachment' }, h('summary', null, 'show here'));
    // Drawn on first opening: an attachment may be a megabyte.
    inline.addEventListener('toggle', () => {
      if (!inline.open || inline.querySelector('pre')) return;
      const cut = a.text.length > MAX_INLINE_CHARS;
      inline.append(h('pre', null, shown(cut ? a.text.slice(0, MAX_INLINE_CHARS) : a.text)));
      if (cut) inline.append(h('p', { class: 'meta' }, '… ' + (a.text.length - MAX_INLINE_CHARS) + ' more characters in ' + path));
    });
    list.append(
      h(
        'li',
        { 'data-attachment': a.id },
        h('a', { href: path, 'data-field': 'attachment-link' }, shown(a.label)),
        ' · ' + path + ' · ' + size + (a.truncated ? ' (cut to its bound)' : '') + (a.workload ? ' · ' + shown(a.workload) : ''),
        inline,
      ),
    );
  }
  return h('div', null, h('p', { class: 'meta' }, 'Kept whole, beside this report:'), list);
}

function hasWireEvidence(ob: Observation): boolean {
  return ob.wire !== undefined || ob.mx !== undefined || ob.tls !== undefined || (ob.status === 'denied' && ob.alert !== undefined);
}

function wireEvidence(ob: Observation): HTMLDetailsElement {
  const rows: KvRow[] = [];
  if (ob.status === 'denied' && ob.alert) rows.push(['TLS alert', ob.alert.name + (ob.alert.code !== undefined ? ' (' + ob.alert.code + ')' : ''), 'wire-alert']);
  if (ob.tls) rows.push(['ALPN', ob.tls.alpn || 'none negotiated', 'wire-alpn']);
  if (ob.mx) rows.push(['metadata exchange from', ob.mx.workload ? (ob.mx.namespace ? ob.mx.namespace + '/' : '') + ob.mx.workload : 'an unnamed proxy', 'wire-mx']);
  const w: WireEvidence = ob.wire ?? {};
  const parts: Node[] = [kv(rows)];
  if (w.firstBytes) {
    const fb = w.firstBytes;
    parts.push(h('p', { class: 'meta' }, 'The first bytes the server sent (' + fb.total + ' in all):'), h('pre', { 'data-field': 'wire-bytes' }, hexDump(fb.hex, fb.text)));
  } else if (ob.wire) parts.push(h('p', { class: 'empty' }, 'the server sent no bytes'));
  if (w.chain?.length) {
    const chain = h('ol', { class: 'chain', 'data-field': 'wire-chain' });
    for (const cert of w.chain.slice(0, 8)) {
      chain.append(
        h(
          'li',
          null,
          h('div', null, 'subject ' + shown(cert.subject)),
          h('div', { class: 'meta' }, 'issuer ' + shown(cert.issuer)),
          h('div', { class: 'meta' }, 'SANs ' + (cert.sans.length ? cert.sans.slice(0, 64).map(shown).join(', ') : 'none')),
        ),
      );
    }
    parts.push(h('p', { class: 'meta' }, 'The certificate chain it presented, leaf first:'), chain);
  }
  return h('details', { class: 'evidence-part', 'data-part': 'wire' }, h('summary', null, 'On the wire'), parts);
}

/** Offset, sixteen bytes in hex, the same bytes printable: like `hexdump -C`. */
export function hexDump(hex: string, text: string): string {
  const bytes = (hex.replace(/[^0-9a-fA-F]/g, '').match(/[0-9a-fA-F]{2}/g) ?? []).slice(0, 1024);
  const aligned = text.length === bytes.length;
  const rows: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.slice(i, i + 16);
    const hexPart = (row.slice(0, 8).join(' ') + '  ' + row.slice(8).join(' ')).padEnd(48);
    rows.push(i.toString(16).padStart(4, '0') + '  ' + hexPart + (aligned ? '  |' + shown(text.slice(i, i + 16)) + '|' : ''));
  }
  if (!aligned && text) rows.push('', shown(text.slice(0, 1024)));
  return rows.join('\n');
}
