// What a data plane wrote, line by line with the time the harness read it, for the evidence beside a failing cell.
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '../../model/index.js';

/** A data plane's whole log kept per process slot: the last 1 MiB (older lines go first). */
export const LOG_BYTES = 1024 * 1024;
/** A line longer than this is cut (a data plane printing a binary blob must not hold the whole budget). */
const LINE_BYTES = 8 * 1024;

/** One chunk as it was read: lines are made from chunks only when evidence is asked for. */
interface Chunk {
  readonly atMs: number;
  readonly stream: 'stdout' | 'stderr' | 'note';
  /** Bytes as read (kept off the JS heap: a flood is never decoded), or a note's text. */
  readonly data: Buffer | string;
}

/**
 * Keeps chunks, not lines: a data plane flooding its output costs one array push per chunk, and the split into
 * timestamped lines (each line gets the time its end was read) happens only for evidence.
 */
export class TimedLog {
  private readonly chunks: Chunk[] = [];
  private bytes = 0;
  private dropped = false;
  /** The lines made from the chunks, until the next chunk comes (every failing cell of a slot reads them). */
  private made: LogLine[] | undefined;

  constructor(private readonly maxBytes = LOG_BYTES) {}

  /** A chunk of one stream, read now. */
  push(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // A chunk larger than the whole bound: only its end can be kept. Copied into storage of its own size: a read's
    // buffer may be a view of a much larger one, which keeping it would keep alive.
    const keep = Math.min(bytes.length, this.maxBytes);
    const data = Buffer.allocUnsafeSlow(keep);
    bytes.copy(data, 0, bytes.length - keep);
    if (keep < bytes.length) this.dropped = true;
    this.add({ atMs: Date.now(), stream, data });
  }

  /** A line the harness itself adds (a start, a restart), so the log reads in order with what caused it. */
  note(text: string): void {
    this.add({ atMs: Date.now(), stream: 'note', data: `[meshconform] ${text}` });
  }

  private add(c: Chunk): void {
    this.made = undefined;
    this.chunks.push(c);
    this.bytes += c.data.length + 32;
    if (this.bytes <= this.maxBytes) return;
    // Drop the oldest quarter at once: one splice per many chunks keeps the cost linear.
    let drop = 0;
    let freed = 0;
    while (drop < this.chunks.length - 1 && this.bytes - freed > this.maxBytes * 0.75) freed += this.chunks[drop++]!.data.length + 32;
    this.chunks.splice(0, drop);
    this.bytes -= freed;
    this.dropped = true;
  }

  /** Every line kept, in the order read, with the time its last byte arrived; a line still unfinished comes last. */
  private lines(): LogLine[] {
    this.made ??= this.makeLines();
    return this.made;
  }

  private makeLines(): LogLine[] {
    const out: LogLine[] = [];
    const partial = { stdout: { text: '', atMs: 0 }, stderr: { text: '', atMs: 0 } };
    const line = (atMs: number, stream: 'stdout' | 'stderr', text: string): LogLine => ({
      atMs,
      stream,
      text: text.length > LINE_BYTES ? `${text.slice(0, LINE_BYTES)}…` : text.replace(/\r$/, ''),
    });
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    for (const c of this.chunks) {
      if (c.stream === 'note') {
        out.push({ atMs: c.atMs, stream: 'stderr', text: String(c.data) });
        continue;
      }
      const text = typeof c.data === 'string' ? c.data : decoders[c.stream].write(c.data);
      const parts = (partial[c.stream].text + text).split('\n');
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

  /** The whole log as text, one `ISO-time stream text` line each; with `maxChars`, only the last lines that fit. */
  text(maxChars = Number.POSITIVE_INFINITY): string {
    const lines = this.lines();
    const out: string[] = [];
    let chars = 0;
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!;
      const text = `${new Date(l.atMs).toISOString()} ${l.stream} ${l.text}`;
      chars += text.length + 1;
      if (chars > maxChars && out.length > 0) break;
      out.push(text);
    }
    return out.reverse().join('\n');
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
