import { generateKeyPairSync } from 'node:crypto';
import type { Attachment, CellEvidence, CellResult, Observation, RunResult, ScenarioResult, WireEvidence } from '../../src/model/index.js';
import { EVIDENCE_BOUNDS, evidenceText } from '../../src/util/evidence-text.js';
import { XSS } from './html-fixtures.js';

const PROBLEM = new Set(['fail', 'flaky', 'error']);

/** A TLS server's first bytes (a ServerHello's start) as the probe records them: hex, printable, total. */
export function firstBytes(n = 64): NonNullable<WireEvidence['firstBytes']> {
  const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i < 5 ? [0x16, 0x03, 0x03, 0x00, 0x7a][i]! : (i * 37) % 256)));
  return { hex: bytes.toString('hex'), text: [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''), total: 122 };
}

export const CHAIN: NonNullable<WireEvidence['chain']> = [
  { subject: 'O=cluster.local', issuer: 'O=cluster.local, CN=mesh root', sans: ['spiffe://cluster.local/ns/foo/sa/finance'] },
  { subject: 'O=cluster.local, CN=mesh root', issuer: 'O=cluster.local, CN=mesh root', sans: [] },
];

const withWire = (ob: Observation | undefined, wire: WireEvidence): Observation | undefined => (ob ? { ...ob, wire } : ob);

export interface EvidenceOptions {
  /** Log lines per cell. */
  readonly lines?: number;
  /** Bytes of configuration per cell. */
  readonly configBytes?: number;
  /** One whole-log attachment per scenario, referenced by its problem cells. */
  readonly attachments?: boolean;
}

function cellEvidence(c: CellResult, o: EvidenceOptions, attachmentId: string | undefined): CellEvidence {
  const start = c.observed?.timings.startedAt ?? 1_780_000_000_000;
  const lines = Array.from({ length: o.lines ?? 20 }, (_, i) => ({
    atMs: start - 1000 + i * 50,
    stream: i % 5 === 4 ? ('stderr' as const) : ('stdout' as const),
    text: `[${i}] conn ${c.workload}:${c.port} from 127.0.0.1:${40000 + i}: ${i % 5 === 4 ? 'handshake failed: no client certificate' : 'accepted, forwarding to the application'}`,
  }));
  const unit = `listener ${c.port}: { mode: STRICT, workload: ${c.workload}, peers: [spiffe://cluster.local/ns/foo/sa/*] }\n`;
  const config = unit.repeat(Math.ceil((o.configBytes ?? 2048) / unit.length));
  return {
    logs: { source: `data plane of ${c.workload}`, lines },
    config: { source: `MESHCONFORM_WORKLOAD_CONFIG of ${c.workload}`, text: config },
    ...(attachmentId ? { attachments: [attachmentId] } : {}),
  };
}

/** The run with evidence on every failing, flaky and error cell (logs, config, wire), and the run's flags recorded. */
export function withEvidence(run: RunResult, o: EvidenceOptions = {}): RunResult {
  const scenarios = run.scenarios.map((s, si): ScenarioResult => {
    const id = o.attachments ? `s${si}-data-plane-log` : undefined;
    const cells = s.cells.map((c): CellResult => {
      if (!PROBLEM.has(c.verdict)) return c;
      const observed = withWire(c.observed, { firstBytes: firstBytes(), chain: CHAIN });
      return { ...c, ...(observed ? { observed } : {}), evidence: cellEvidence(c, o, id) };
    });
    const attachments: Attachment[] = id ? [{ id, label: `log of the data plane (${s.name})`, mediaType: 'text/plain', text: 'line one\nline two\n'.repeat(100) }] : [];
    return { ...s, cells, ...(attachments.length ? { attachments } : {}) };
  });
  return {
    ...run,
    scenarios,
    options: { ...run.options, flags: { backend: 'local', 'data-plane': run.environment.dataPlane, claim: run.claim, retries: 1, timeout: 3000, concurrency: 32, parallel: 4 } },
  };
}

/** A private key as a data plane might log it, passed through the producers' one redaction rule. */
export function redactedKeyLog(): string {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return evidenceText(`loaded identity:\n${pem}`, EVIDENCE_BOUNDS.cellLogBytes, 'tail').text;
}

/**
 * Evidence a hostile or broken data plane could produce: markup, script end tags, control bytes and bidi overrides in
 * log lines, config, labels, SANs and first bytes; an attachment id that tries to leave the folder; and a private key
 * in its log that the producer redacted.
 */
export function hostileEvidence(cell: CellResult, key: string): { evidence: CellEvidence; wire: WireEvidence; attachments: Attachment[] } {
  const start = cell.observed?.timings.startedAt ?? 1_780_000_000_000;
  const texts = [XSS.script, XSS.marker, `\u001b[31mred\u001b[0m\u0000nul\u0007bell`, `left \u202Eright-to-left\u202C`, key, `"${XSS.alert}" & '${XSS.svg}'`];
  const lines = Array.from({ length: 250 }, (_, i) => ({
    atMs: start - 900 + i,
    stream: i % 2 ? ('stderr' as const) : ('stdout' as const),
    text: `${i} ${texts[i % texts.length]}`,
  }));
  return {
    evidence: {
      logs: { source: `stderr of ${XSS.marker}`, lines, truncated: true },
      config: { source: XSS.alert, text: `{"listener": "${XSS.script}", "privateKey": "[redacted]"}\n${XSS.marker}` },
      attachments: ['whole-log', '../../escape', 'missing-one'],
    },
    wire: {
      firstBytes: { hex: Buffer.from(`HTTP/1.1 400 ${XSS.script}`).subarray(0, 48).toString('hex'), text: `HTTP/1.1 400 ${XSS.script}`.slice(0, 48), total: 48 },
      chain: [{ subject: `CN=${XSS.marker}`, issuer: `CN=${XSS.script}`, sans: [XSS.svg, 'spiffe://cluster.local/ns/foo/sa/finance'] }],
    },
    attachments: [
      { id: 'whole-log', label: `whole log ${XSS.marker}`, workload: cell.workload, mediaType: 'text/plain', text: `${XSS.script}\n${key}\n`, truncated: true },
      { id: '../../escape', label: 'escapes the folder', mediaType: 'application/json', text: '{"x":1}' },
    ],
  };
}
