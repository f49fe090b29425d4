// The evidence of the backends that start the data plane themselves (processes on this host, containers): each data
// plane's timestamped log and the configuration its workloads were given, for the failing, flaky and error cells the
// pipeline asks about.
import { createHash } from 'node:crypto';
import type { Attachment, CellEvidence, EnvironmentEvidence, EvidenceOptions, EvidenceRequest, LogLine, WorkloadKey } from '../../model/index.js';
import { EVIDENCE_BOUNDS, bounded, evidenceText, redactLines } from '../../util/evidence-text.js';

/**
 * What evidence is drawn from: a data plane's log (a process slot's, a container's) and the workloads it serves with
 * the configs each was given. A log that could not be read is absent: the cells keep their config.
 */
export interface EvidenceSource {
  readonly label: string;
  readonly log?: {
    between(fromMs: number, toMs: number): LogLine[];
    text(maxChars?: number): string;
    readonly truncated: boolean;
  };
  /** Per workload: the config in force at a time (a ConfigHistory), and where its data plane reads it. */
  readonly members: readonly { readonly key: WorkloadKey; readonly configs: { at(ms: number): string | undefined }; readonly configFile: string }[];
}

/** An attachment id unique in the run: readable stem, short hash of what it names. */
export function attachmentId(kind: string, ...parts: string[]): string {
  const stem = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  const hash = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 8);
  return `${kind}-${stem}-${hash}`;
}

/** Log lines redacted together (a key spans lines), then bounded to the per-cell budget, the latest kept. */
function boundedLines(lines: readonly LogLine[]): { lines: LogLine[]; truncated?: true } {
  const texts = redactLines(lines.map((l) => l.text));
  const out: LogLine[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const text = bounded(texts[i]!, 2048, 'head').text;
    bytes += text.length + 32;
    if (bytes > EVIDENCE_BOUNDS.cellLogBytes) return { lines: out.reverse(), truncated: true };
    out.push({ ...lines[i]!, text });
  }
  return { lines: out.reverse() };
}

/** Names a workload key as a whole word (`foo/web` is not in `foo/web2`); Kubernetes names are [a-z0-9.-]. */
function namesKey(text: string, key: string): boolean {
  for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + 1)) {
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + key.length] ?? '';
    if (!/[a-z0-9.-]/.test(before) && !/[a-z0-9.-]/.test(after)) return true;
  }
  return false;
}

/**
 * A process serving several workloads logs for all of them: a cell keeps the lines naming its workload and those
 * naming none of them (the process's own), not its neighbours' traffic.
 */
function ownLines(lines: LogLine[], source: EvidenceSource, key: WorkloadKey): LogLine[] {
  if (source.members.length < 2) return lines;
  const others = source.members.filter((m) => m.key !== key).map((m) => m.key);
  return lines.filter((l) => namesKey(l.text, key) || !others.some((k) => namesKey(l.text, k)));
}

/** Per cell: its source's lines in the window and the config in force at its end; per source asked about: the whole log. */
export function slotEvidence(
  sources: readonly EvidenceSource[],
  requests: readonly EvidenceRequest[],
  context: { scenario: string; meshMode: string },
  options: EvidenceOptions = {},
): EnvironmentEvidence {
  const cells = new Map<string, CellEvidence>();
  const attachments = new Map<EvidenceSource, Attachment>();
  const wholeLog = (source: EvidenceSource): Attachment | undefined => {
    const log = source.log;
    if (!log || attachments.has(source)) return attachments.get(source);
    const text = evidenceText(log.text(EVIDENCE_BOUNDS.attachmentBytes), EVIDENCE_BOUNDS.attachmentBytes, 'tail');
    const whole: Attachment = {
      id: attachmentId('log', context.scenario, context.meshMode, source.label),
      label: `${source.label}: its whole log (stdout and stderr)`,
      ...(source.members[0] ? { workload: source.members[0].key } : {}),
      mediaType: 'text/plain',
      text: text.text,
      ...(text.truncated || log.truncated ? { truncated: true } : {}),
    };
    attachments.set(source, whole);
    return whole;
  };
  if (options.everyLog) for (const s of sources) wholeLog(s);
  for (const r of requests) {
    const source = sources.find((s) => s.members.some((m) => m.key === r.workload));
    const member = source?.members.find((m) => m.key === r.workload);
    if (!source || !member) continue;
    const log = source.log;
    const whole = wholeLog(source);
    const config = member.configs.at(r.toMs);
    const lines = log ? ownLines(log.between(r.fromMs, r.toMs), source, member.key) : undefined;
    const configText = config === undefined ? undefined : evidenceText(config, EVIDENCE_BOUNDS.configBytes, 'head');
    cells.set(r.key, {
      ...(lines ? { logs: { source: source.label, ...boundedLines(lines) } } : {}),
      ...(configText ? { config: { source: `workload config of ${r.workload} (${member.configFile})`, ...configText } } : {}),
      ...(whole ? { attachments: [whole.id] } : {}),
    });
  }
  return { cells, attachments: [...attachments.values()] };
}
