/** Default cap of what is kept of one output stream of a data plane (or any process the harness runs). */
export const OUTPUT_CAP_BYTES = 64 * 1024;

/**
 * The last `cap` bytes of a stream: older output is dropped as new output arrives, so a process flooding its
 * stdout or stderr costs the harness at most `cap` bytes per stream.
 */
export class ByteRing {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes dropped so far. */
  dropped = 0;

  constructor(private readonly cap = OUTPUT_CAP_BYTES) {}

  push(chunk: Buffer | string): void {
    let b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // A copy, never a view: a slice of a huge chunk would keep the whole chunk alive.
    if (b.length > this.cap) {
      this.dropped += b.length - this.cap;
      b = Buffer.from(b.subarray(b.length - this.cap));
    }
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.cap) {
      const first = this.chunks[0]!;
      const excess = this.size - this.cap;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = Buffer.from(first.subarray(excess));
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  get bytes(): number {
    return this.size;
  }

  /** What is kept, as UTF-8 text (a character cut at the front shows as U+FFFD). */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
