// What a data plane wrote, line by line with the time the harness read it, for the evidence beside a failing cell.
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '../../model/index.js';

/** A data plane's whole log kept per process slot: the last 1 MiB (older lines go first). */
export const LOG_BYTES = 1024 * 1024;
/** Lines made for evidence at most (the latest): 1 MiB of one-character lines would otherwise be half a million objects. */
const LINE_CAP = 20_000;
/** A line longer than this is cut (a data plane printing a binary blob must not hold the whole budget). */
const LINE_BYTES = 8 * 1024;

/** One read as it came: where its bytes sit in the ring (or a note's text), and when. */
interface Chunk {
  readonly atMs: number;
  readonly stream: 'stdout' | 'stderr' | 'note';
  /** Absolute offset of its first byte among every byte ever written (the ring keeps the last `maxBytes`). */
  start: number;
  len: number;
  readonly note?: string;
}

/**
 * Keeps the last bytes in one ring allocated once, with a record per read: a data plane flooding its output costs a
 * copy into the ring and one small record per read, never an allocation of its size; lines (each with the time its
 * end was read) are made only when evidence is asked for.
 */
export class TimedLog {
  private ring: Buffer | undefined;
  private written = 0;
  private chunks: Chunk[] = [];
  private first = 0;
  private dropped = false;
  /** The lines made from the chunks, until the next chunk comes (every failing cell of a slot reads them). */
  private made: LogLine[] | undefined;

  constructor(private readonly maxBytes = LOG_BYTES) {}

  /** A chunk of one stream, read now. */
  push(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // A chunk larger than the whole ring: only its end can be kept.
    const keep = Math.min(bytes.length, this.maxBytes);
    if (keep < bytes.length) this.dropped = true;
    this.ring ??= Buffer.allocUnsafeSlow(this.maxBytes);
    const at = this.written % this.maxBytes;
    const firstPart = Math.min(keep, this.maxBytes - at);
    bytes.copy(this.ring, at, bytes.length - keep, bytes.length - keep + firstPart);
    if (firstPart < keep) bytes.copy(this.ring, 0, bytes.length - keep + firstPart, bytes.length);
    this.add({ atMs: Date.now(), stream, start: this.written, len: keep });
    this.written += keep;
    this.forgetOverwritten();
  }

  /** A line the harness itself adds (a start, a restart), so the log reads in order with what caused it. */
  note(text: string): void {
    this.add({ atMs: Date.now(), stream: 'note', start: this.written, len: 0, note: `[meshconform] ${text}` });
  }

  private add(c: Chunk): void {
    this.made = undefined;
    this.chunks.push(c);
  }

  /** Records whose bytes the ring has written over go (a record half overwritten keeps its end). */
  private forgetOverwritten(): void {
    const oldest = this.written - this.maxBytes;
    while (this.first < this.chunks.length) {
      const c = this.chunks[this.first]!;
      if (c.stream === 'note' ? c.start >= oldest : c.start + c.len > oldest) break;
      this.first++;
      this.dropped = true;
    }
    const c = this.chunks[this.first];
    if (c && c.stream !== 'note' && c.start < oldest) {
      c.len -= oldest - c.start;
      c.start = oldest;
      this.dropped = true;
    }
    // Compact now and then: one splice for many records keeps the cost linear.
    if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  /** The first record to make lines from: the latest ones holding at most LINE_CAP line ends. */
  private startForLines(): number {
    let ends = 0;
    for (let i = this.chunks.length - 1; i > this.first; i--) {
      const c = this.chunks[i]!;
      if (c.stream === 'note') {
        ends++;
        continue;
      }
      const b = this.bytesOf(c);
      for (let at = b.indexOf(10); at !== -1; at = b.indexOf(10, at + 1)) ends++;
      if (ends > LINE_CAP) return i + 1;
    }
    return this.first;
  }

  private bytesOf(c: Chunk): Buffer {
    const ring = this.ring!;
    const at = c.start % this.maxBytes;
    if (at + c.len <= this.maxBytes) return ring.subarray(at, at + c.len);
    return Buffer.concat([ring.subarray(at), ring.subarray(0, c.len - (this.maxBytes - at))]);
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
    for (let i = this.startForLines(); i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.stream === 'note') {
        out.push({ atMs: c.atMs, stream: 'stderr', text: c.note ?? '' });
        continue;
      }
      const text = decoders[c.stream].write(this.bytesOf(c));
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
