import { AgentProtocolError } from './protocol-error.js';

/** A line longer than this without a newline ends the session (a batch of the largest size fits well within it). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Newline-separated lines of a stream, bounded in length; blank lines are skipped, a last line without newline counts. */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string, void, void> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    let nl = buf.indexOf(0x0a);
    while (nl >= 0) {
      parts.push(buf.subarray(0, nl));
      const line = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
      parts = [];
      size = 0;
      buf = buf.subarray(nl + 1);
      if (line.trim() !== '') yield line;
      nl = buf.indexOf(0x0a);
    }
    parts.push(buf);
    size += buf.length;
    if (size > MAX_LINE_BYTES) throw new AgentProtocolError(`a message longer than ${MAX_LINE_BYTES} bytes without a newline`);
  }
  const rest = Buffer.concat(parts).toString('utf8').trim();
  if (rest !== '') yield rest;
}

/** One message: a JSON object (its fields are checked by whoever reads it). */
export function parseMessage(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new AgentProtocolError(`not a JSON line (${err instanceof Error ? err.message : String(err)}): ${line.slice(0, 80)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AgentProtocolError('every message must be a JSON object');
  return v as Record<string, unknown>;
}

/** One JSON line at a time on `out`, in order, each after the previous one drained (back-pressure). */
export function lineWriter(out: NodeJS.WritableStream): (message: unknown) => Promise<void> {
  let writing = Promise.resolve();
  return (message) => {
    const line = `${JSON.stringify(message)}\n`;
    writing = writing.then(() => new Promise<void>((resolve) => (out.write(line) ? resolve() : out.once('drain', () => resolve()))));
    return writing;
  };
}
