import type { ProbeJob } from '../model/index.js';
import { PROBE_LINE_PREFIX, payloadId } from './echo-reply.js';
import { closed, openConnection, type ConnectionTrace, type TlsOptions } from './open-connection.js';
import { denied, outcomeOfError, outcomeOfReplyLine, type Outcome } from './outcome.js';
import { incompletePreamble, MX_ALPN, PROBE_MX_HEADER, readPreamble } from './peer-exchange.js';
import type { ProbeContext } from './probe-context.js';
import { timeoutOutcome } from './timeout-outcome.js';

/** A reply longer than this without a newline is judged as it stands (a peer streaming garbage). */
const MAX_REPLY_BYTES = 64 * 1024;

/**
 * A broken metadata-exchange preamble: the data plane accepted the connection and began Istio's exchange, so it is
 * no evidence that the policy denied anything, and no evidence that the application answered: an `error`.
 */
const mxError = (why: string): Outcome => ({ kind: 'error', message: `istio-peer-exchange preamble: ${why}` });

/**
 * Raw exchange: sends `MESHCONFORM-PROBE <key>\n`, reads one reply line, then closes. Never rejects. When ALPN
 * `istio-peer-exchange` was negotiated it first sends its own metadata header (as an Istio sidecar client does) and
 * reads the server's preamble before the reply (peer-exchange.ts); bytes without the magic are judged as usual.
 */
export function lineExchange(job: ProbeJob, ctx: ProbeContext, tlsOptions: TlsOptions | null, signal: AbortSignal): Promise<{ outcome: Outcome; trace: ConnectionTrace }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    /** `pending`: MX negotiated, the preamble (or its absence) not yet known. */
    let mx: 'off' | 'pending' | 'done' = 'off';
    /** Where the application's reply starts (after a preamble). */
    let replyStart = 0;
    const { socket, trace } = openConnection(job, ctx, tlsOptions, (s) => {
      const line = Buffer.from(`${PROBE_LINE_PREFIX}${payloadId(job)}\n`, 'utf8');
      if (trace.tls?.alpn === MX_ALPN) {
        mx = 'pending';
        // One write: the header and the line together are well over the 8 bytes Envoy waits for.
        s.write(Buffer.concat([PROBE_MX_HEADER, line]));
      } else {
        s.write(line);
      }
    });
    const all = () => Buffer.concat(chunks, size);
    const reply = () => all().subarray(replyStart);
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      void closed(socket).then(() => resolve({ outcome, trace }));
    };
    /**
     * The stream stopped (EOF, error, close) or the deadline came, with no complete reply line: an unfinished preamble
     * is a protocol error (`mxWhy` says how it ended), bytes so far are the reply as it stands (garbage without a
     * newline is a non-echo reply, as the HTTP clients classify it), and only silence is `otherwise`.
     */
    const ended = (otherwise: () => Outcome, mxWhy = (p: string) => `truncated: the connection ended after ${p}`) => {
      if (mx === 'pending' && size > 0) return finish(mxError(mxWhy(incompletePreamble(all()))));
      const rest = reply();
      if (rest.length > 0) return finish(outcomeOfReplyLine(rest.toString('utf8')));
      return finish(otherwise());
    };
    const noReply = () => denied('closed', trace.mx ? 'connection closed after the istio-peer-exchange preamble without a reply' : 'connection closed without a reply');
    const onAbort = () =>
      ended(
        () => timeoutOutcome(signal, trace),
        (p) => `incomplete within the probe deadline: ${p} arrived`,
      );

    socket.on('data', (chunk: Buffer) => {
      trace.received?.push(chunk);
      chunks.push(chunk);
      size += chunk.length;
      if (mx === 'pending') {
        const r = readPreamble(all());
        if (r.state === 'need-more') return;
        if (r.state === 'bad') return finish(mxError(r.why));
        mx = 'done';
        if (r.state === 'ok') {
          trace.mx = { seen: true, ...r.peer };
          replyStart = r.consumed;
        }
      }
      const rest = reply();
      const nl = rest.indexOf(0x0a);
      if (nl >= 0) finish(outcomeOfReplyLine(rest.subarray(0, nl).toString('utf8')));
      else if (rest.length >= MAX_REPLY_BYTES) finish(outcomeOfReplyLine(rest.toString('utf8')));
    });
    socket.on('end', () => ended(noReply));
    socket.on('error', (err) => (mx === 'pending' && size > 0 ? ended(noReply) : finish(outcomeOfError(err))));
    socket.on('close', () => ended(() => (trace.error ? outcomeOfError(trace.error) : noReply())));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}
