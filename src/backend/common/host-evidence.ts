// The evidence of the backends that run the data plane on this host: each process slot's timestamped log and the
// configuration its workloads were given, for the failing, flaky and error cells the pipeline asks about.
import { createHash } from 'node:crypto';
import type { Attachment, CellEvidence, EnvironmentEvidence, EvidenceRequest, LogLine } from '../../model/index.js';
import { EVIDENCE_BOUNDS, evidenceText } from '../../util/evidence-text.js';
import type { Slot } from './supervisor.js';

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

/** Log lines bounded to the per-cell budget, the latest kept. */
function boundedLines(lines: readonly LogLine[]): { lines: LogLine[]; truncated?: true } {
  const out: LogLine[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    const text = evidenceText(l.text, 2048, 'head').text;
    bytes += text.length + 32;
    if (bytes > EVIDENCE_BOUNDS.cellLogBytes) return { lines: out.reverse(), truncated: true };
    out.push({ ...l, text });
  }
  return { lines: out.reverse() };
}

/** Per cell: its slot's lines in the window and the config in force at its end; per slot asked about: the whole log. */
export function slotEvidence(slots: readonly Slot[], requests: readonly EvidenceRequest[], context: { scenario: string; meshMode: string }): EnvironmentEvidence {
  const cells = new Map<string, CellEvidence>();
  const attachments = new Map<Slot, Attachment>();
  for (const r of requests) {
    const slot = slots.find((s) => s.members.some((m) => m.key === r.workload));
    const member = slot?.members.find((m) => m.key === r.workload);
    if (!slot || !member) continue;
    let whole = attachments.get(slot);
    if (!whole) {
      const text = evidenceText(slot.log.text(), EVIDENCE_BOUNDS.attachmentBytes, 'tail');
      whole = {
        id: attachmentId('log', context.scenario, context.meshMode, slot.label),
        label: `${slot.label}: its whole log (stdout and stderr)`,
        workload: r.workload,
        mediaType: 'text/plain',
        text: text.text,
        ...(text.truncated || slot.log.truncated ? { truncated: true } : {}),
      };
      attachments.set(slot, whole);
    }
    const logs = boundedLines(slot.log.between(r.fromMs, r.toMs));
    const config = member.configs.at(r.toMs);
    const configText = config === undefined ? undefined : evidenceText(config, EVIDENCE_BOUNDS.configBytes, 'head');
    cells.set(r.key, {
      logs: { source: slot.label, ...logs },
      ...(configText ? { config: { source: `workload config of ${r.workload} (${member.configFile})`, ...configText } } : {}),
      attachments: [whole.id],
    });
  }
  return { cells, attachments: [...attachments.values()] };
}
