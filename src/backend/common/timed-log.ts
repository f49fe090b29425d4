// What a data plane wrote, line by line with the time the harness read it, for the evidence beside a failing cell.
import type { LogLine } from '../../model/index.js';

/** A data plane's whole log kept per process slot: the last 1 MiB (older lines go first). */
export const LOG_BYTES = 1024 * 1024;
/** A line longer than this is cut (a data plane printing a binary blob must not hold the whole budget). */
const LINE_BYTES = 8 * 1024;

export class TimedLog {
  private readonly lines: LogLine[] = [];
  private bytes = 0;
  private dropped = false;
  private readonly partial = { stdout: '', stderr: '' };

  constructor(private readonly maxBytes = LOG_BYTES) {}

  /** A chunk of one stream: complete lines are timestamped now; the rest waits for its newline. */
  push(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    if (this.partial[stream].length > LINE_BYTES) {
      parts.push(this.partial[stream]);
      this.partial[stream] = '';
    }
    const atMs = Date.now();
    for (const p of parts) this.add({ atMs, stream, text: p.length > LINE_BYTES ? `${p.slice(0, LINE_BYTES)}…` : p.replace(/\r$/, '') });
  }

  /** A line the harness itself adds (a start, a restart), so the log reads in order with what caused it. */
  note(text: string): void {
    this.add({ atMs: Date.now(), stream: 'stderr', text: `[meshconform] ${text}` });
  }

  private add(line: LogLine): void {
    this.lines.push(line);
    this.bytes += line.text.length + 32;
    if (this.bytes <= this.maxBytes) return;
    // Drop the oldest quarter at once: one splice per many lines keeps a flooding data plane's cost linear.
    let drop = 0;
    let freed = 0;
    while (drop < this.lines.length - 1 && this.bytes - freed > this.maxBytes * 0.75) freed += this.lines[drop++]!.text.length + 32;
    this.lines.splice(0, drop);
    this.bytes -= freed;
    this.dropped = true;
  }

  /** The lines read between `fromMs` and `toMs` (inclusive), and whatever is still waiting for its newline. */
  between(fromMs: number, toMs: number): LogLine[] {
    const out = this.lines.filter((l) => l.atMs >= fromMs && l.atMs <= toMs);
    for (const stream of ['stdout', 'stderr'] as const) if (this.partial[stream]) out.push({ atMs: Date.now(), stream, text: this.partial[stream] });
    return out;
  }

  /** The whole log as text, one `ISO-time stream text` line each. */
  text(): string {
    return this.lines.map((l) => `${new Date(l.atMs).toISOString()} ${l.stream} ${l.text}`).join('\n');
  }

  /** Whether older lines were dropped to stay within the bound. */
  get truncated(): boolean {
    return this.dropped;
  }
}

/** The configurations a workload's data plane was given, in order, with when each was written. */
export class ConfigHistory {
  private readonly entries: { atMs: number; text: string }[] = [];
  private static readonly KEEP = 32;

  record(text: string): void {
    this.entries.push({ atMs: Date.now(), text });
    if (this.entries.length > ConfigHistory.KEEP) this.entries.shift();
  }

  /** The configuration in force at `ms`: the last one written before it (the first, if none was). */
  at(ms: number): string | undefined {
    let found = this.entries[0]?.text;
    for (const e of this.entries) if (e.atMs <= ms) found = e.text;
    return found;
  }
}
