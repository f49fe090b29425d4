// What a data plane wrote, line by line with the time the harness read it, for the evidence beside a failing cell.
import type { LogLine } from '../../model/index.js';

/** A data plane's whole log kept per process slot: the last 1 MiB (older lines go first). */
export const LOG_BYTES = 1024 * 1024;
/** A line longer than this is cut (a data plane printing a binary blob must not hold the whole budget). */
const LINE_BYTES = 8 * 1024;

/** One chunk as it was read: lines are made from chunks only when evidence is asked for. */
interface Chunk {
  readonly atMs: number;
  readonly stream: 'stdout' | 'stderr' | 'note';
  readonly text: string;
}

/**
 * Keeps chunks, not lines: a data plane flooding its output costs one array push per chunk, and the split into
 * timestamped lines (each line gets the time its end was read) happens only for evidence.
 */
export class TimedLog {
  private readonly chunks: Chunk[] = [];
  private bytes = 0;
  private dropped = false;

  constructor(private readonly maxBytes = LOG_BYTES) {}

  /** A chunk of one stream, read now. */
  push(stream: 'stdout' | 'stderr', chunk: string): void {
    // A chunk larger than the whole bound: only its end can be kept.
    const text = chunk.length > this.maxBytes ? chunk.slice(chunk.length - this.maxBytes) : chunk;
    if (text.length < chunk.length) this.dropped = true;
    this.add({ atMs: Date.now(), stream, text });
  }

  /** A line the harness itself adds (a start, a restart), so the log reads in order with what caused it. */
  note(text: string): void {
    this.add({ atMs: Date.now(), stream: 'note', text: `[meshconform] ${text}` });
  }

  private add(c: Chunk): void {
    this.chunks.push(c);
    this.bytes += c.text.length + 32;
    if (this.bytes <= this.maxBytes) return;
    // Drop the oldest quarter at once: one splice per many chunks keeps the cost linear.
    let drop = 0;
    let freed = 0;
    while (drop < this.chunks.length - 1 && this.bytes - freed > this.maxBytes * 0.75) freed += this.chunks[drop++]!.text.length + 32;
    this.chunks.splice(0, drop);
    this.bytes -= freed;
    this.dropped = true;
  }

  /** Every line kept, in the order read, with the time its last byte arrived; a line still unfinished comes last. */
  private lines(): LogLine[] {
    const out: LogLine[] = [];
    const partial = { stdout: { text: '', atMs: 0 }, stderr: { text: '', atMs: 0 } };
    const line = (atMs: number, stream: 'stdout' | 'stderr', text: string): LogLine => ({
      atMs,
      stream,
      text: text.length > LINE_BYTES ? `${text.slice(0, LINE_BYTES)}…` : text.replace(/\r$/, ''),
    });
    for (const c of this.chunks) {
      if (c.stream === 'note') {
        out.push({ atMs: c.atMs, stream: 'stderr', text: c.text });
        continue;
      }
      const parts = (partial[c.stream].text + c.text).split('\n');
      const rest = parts.pop() ?? '';
      for (const p of parts) out.push(line(c.atMs, c.stream, p));
      // A runaway line is cut where it stands rather than held without end.
      if (rest.length > LINE_BYTES) {
        out.push(line(c.atMs, c.stream, rest));
        partial[c.stream] = { text: '', atMs: 0 };
      } else partial[c.stream] = { text: rest, atMs: c.atMs };
    }
    for (const stream of ['stdout', 'stderr'] as const) if (partial[stream].text) out.push(line(partial[stream].atMs, stream, partial[stream].text));
    return out;
  }

  /** The lines whose end was read between `fromMs` and `toMs` (inclusive); an unfinished line counts as ended. */
  between(fromMs: number, toMs: number): LogLine[] {
    return this.lines().filter((l) => l.atMs >= fromMs && l.atMs <= toMs);
  }

  /** The whole log as text, one `ISO-time stream text` line each. */
  text(): string {
    return this.lines()
      .map((l) => `${new Date(l.atMs).toISOString()} ${l.stream} ${l.text}`)
      .join('\n');
  }

  /** Whether older output was dropped to stay within the bound. */
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
