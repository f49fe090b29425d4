// A container's log as the Docker engine keeps it, read back line by line with the engine's own timestamps: the
// evidence beside a failing cell survives until the container is removed, whatever the harness itself kept.
import type Dockerode from 'dockerode';
import type { LogLine } from '../../model/index.js';

/** How long one container's log may take to read before its evidence is left out. */
const READ_TIMEOUT_MS = 20_000;
/** A line longer than this is cut (a data plane printing a binary blob must not hold the whole budget). */
const LINE_CHARS = 8 * 1024;
/** `<RFC3339Nano> <text>`, as the engine writes each line with `timestamps: true`. */
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ?(.*)$/s;

/** A container's whole log, read once: the lines of a window, or all of it as text. */
export class ContainerLog {
  constructor(readonly lines: readonly LogLine[]) {}

  /** The lines the engine stamped between `fromMs` and `toMs` (inclusive). */
  between(fromMs: number, toMs: number): LogLine[] {
    return this.lines.filter((l) => l.atMs >= fromMs && l.atMs <= toMs);
  }

  /** The whole log as text, one `ISO-time stream text` line each (the host backends' format). */
  text(): string {
    return this.lines.map((l) => `${new Date(l.atMs).toISOString()} ${l.stream} ${l.text}`).join('\n');
  }

  /** The engine keeps the whole log; the bound is the attachment's. */
  get truncated(): boolean {
    return false;
  }
}

/** The container's log with the engine's timestamps; undefined when the engine cannot give it (gone, no log driver). */
export async function readContainerLog(docker: Dockerode, containerId: string): Promise<ContainerLog | undefined> {
  try {
    const raw = await docker.getContainer(containerId).logs({ stdout: true, stderr: true, timestamps: true, follow: false, abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    return new ContainerLog(stampedLines(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))));
  } catch {
    return undefined;
  }
}

/**
 * The engine's log answer as lines. A container without a TTY gets Docker's multiplexed framing (an 8-byte header per
 * frame: stream 1 stdout or 2 stderr, three zero bytes, the payload's length big-endian); one with a TTY, raw text.
 * Each frame holds whole lines, each `<timestamp> <text>`; a line without a readable timestamp takes the one before.
 */
export function stampedLines(raw: Buffer): LogLine[] {
  const out: LogLine[] = [];
  let atMs = 0;
  for (const frame of frames(raw)) {
    for (const piece of frame.text.split('\n')) {
      const line = piece.replace(/\r$/, '');
      if (line === '') continue;
      const m = STAMPED.exec(line);
      const stamp = m ? Date.parse(m[1]!) : Number.NaN;
      if (!Number.isNaN(stamp)) atMs = stamp;
      const text = m ? m[2]! : line;
      out.push({ atMs, stream: frame.stream, text: text.length > LINE_CHARS ? `${text.slice(0, LINE_CHARS)}…` : text });
    }
  }
  return out;
}

function frames(raw: Buffer): { stream: LogLine['stream']; text: string }[] {
  const out: { stream: LogLine['stream']; text: string }[] = [];
  let at = 0;
  while (at < raw.length) {
    const kind = raw[at]!;
    if (at + 8 > raw.length || kind > 2 || raw[at + 1] !== 0 || raw[at + 2] !== 0 || raw[at + 3] !== 0) {
      // Not framed: a TTY container's raw output, as it is.
      out.push({ stream: 'stdout', text: raw.subarray(at).toString('utf8') });
      break;
    }
    // A cut answer's last frame: what arrived of it.
    const end = Math.min(raw.length, at + 8 + raw.readUInt32BE(at + 4));
    out.push({ stream: kind === 2 ? 'stderr' : 'stdout', text: raw.subarray(at + 8, end).toString('utf8') });
    at = end;
  }
  return out;
}
