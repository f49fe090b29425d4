import type { ProbeJob } from '../model/index.js';
import { PROBE_LINE_PREFIX } from './echo-reply.js';
import { closed, openConnection, type ConnectionTrace, type TlsOptions } from './open-connection.js';
import { denied, outcomeOfError, outcomeOfReplyLine, type Outcome } from './outcome.js';
import type { ProbeContext } from './probe-context.js';
import { timeoutOutcome } from './timeout-outcome.js';

/** A reply longer than this without a newline is judged as it stands (a peer streaming garbage). */
const MAX_REPLY_BYTES = 64 * 1024;

/** Raw exchange: sends `MESHCONFORM-PROBE <key>\n`, reads one reply line, then closes. Never rejects. */
export function lineExchange(
  job: ProbeJob,
  ctx: ProbeContext,
  tlsOptions: TlsOptions | null,
  signal: AbortSignal,
): Promise<{ outcome: Outcome; trace: ConnectionTrace }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const { socket, trace } = openConnection(job, ctx, tlsOptions, (s) => {
      s.write(`${PROBE_LINE_PREFIX}${job.key}\n`);
    });
    const received = () => Buffer.concat(chunks, size).toString('utf8');
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      void closed(socket).then(() => resolve({ outcome, trace }));
    };
    const onAbort = () => finish(timeoutOutcome(signal, trace));

    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (chunk.includes(0x0a)) {
        const text = received();
        finish(outcomeOfReplyLine(text.slice(0, text.indexOf('\n'))));
      } else if (size >= MAX_REPLY_BYTES) {
        finish(outcomeOfReplyLine(received()));
      }
    });
    socket.on('end', () => finish(size > 0 ? outcomeOfReplyLine(received()) : denied('closed', 'connection closed without a reply')));
    socket.on('error', (err) => finish(outcomeOfError(err)));
    socket.on('close', () => finish(trace.error ? outcomeOfError(trace.error) : denied('closed', 'connection closed without a reply')));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}
