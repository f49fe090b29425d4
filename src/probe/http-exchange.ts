import net from 'node:net';
import { Client } from 'undici';
import type { ProbeJob } from '../model/index.js';
import { ECHO_LINE_PREFIX, looksLikeEchoBody, parseEchoJson, payloadId } from './echo-reply.js';
import { closed, openConnection, type ConnectionTrace, type TlsOptions } from './open-connection.js';
import { denied, outcomeOfError, outcomeOfHttpStatus, outcomeOfReplyLine, printable, type Outcome } from './outcome.js';
import type { ProbeContext } from './probe-context.js';
import { timeoutOutcome } from './timeout-outcome.js';
import type { ReceivedBytes } from './wire-evidence.js';

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_TAP_BYTES = 4096;
/** Trace of a probe that never got as far as opening its socket. */
const NO_CONNECTION: ConnectionTrace = Object.freeze({ t0: 0, phase: 'connect', eof: false });

/**
 * HTTP/1.1 GET through undici, one `Client` and one connection per probe. Undici gets a custom `connect` so that our
 * own `tls.connect` keeps the ALPN we ask for (undici would replace `ALPNProtocols`) and we see the raw socket:
 * its TLS evidence, its first error, EOF, and the first bytes the peer sent (a raw echo line is still an echo).
 */
export async function httpExchange(job: ProbeJob, ctx: ProbeContext, tlsOptions: TlsOptions | null, signal: AbortSignal): Promise<{ outcome: Outcome; trace: ConnectionTrace }> {
  let conn: { socket: net.Socket; trace: ConnectionTrace } | undefined;
  let failConnect: ((err: Error) => void) | undefined;
  const tapped: Buffer[] = [];
  let tappedBytes = 0;
  const tap = (socket: net.Socket, received: ReceivedBytes | undefined) => {
    // undici pulls with socket.read() on 'readable'; wrapping read on this one socket copies the first bytes.
    const read = socket.read.bind(socket);
    socket.read = (size?: number) => {
      const chunk: unknown = read(size);
      if (Buffer.isBuffer(chunk)) {
        received?.push(chunk);
        if (tappedBytes < MAX_TAP_BYTES) {
          tapped.push(chunk);
          tappedBytes += chunk.length;
        }
      }
      return chunk;
    };
  };

  const client = new Client(origin(job, tlsOptions !== null), {
    connect: (_options, callback) => {
      if (conn) {
        callback(new Error('probe connection already used: every probe gets exactly one TCP connection'), null);
        return;
      }
      let called = false;
      failConnect = (err) => {
        if (!called) {
          called = true;
          callback(err, null);
        }
      };
      conn = openConnection(job, ctx, tlsOptions, (socket) => {
        called = true;
        tap(socket, conn?.trace.received);
        callback(null, socket);
      });
      conn.socket.once('error', failConnect);
    },
    pipelining: 1,
    headersTimeout: 0, // the probe deadline (signal) governs every wait
    bodyTimeout: 0,
    maxResponseSize: MAX_BODY_BYTES,
  });

  // undici only honours an abort once the request is on a socket: a probe stuck in TCP connect or the TLS handshake
  // is ended here by failing the pending connect.
  const onAbort = () => {
    conn?.socket.destroy();
    failConnect?.(signal.reason instanceof Error ? signal.reason : new Error('probe deadline passed'));
  };
  signal.addEventListener('abort', onAbort, { once: true });

  let outcome: Outcome;
  try {
    const res = await client.request({
      path: '/',
      method: 'GET',
      headers: { 'x-meshconform-probe': payloadId(job), connection: 'close' },
      signal,
    });
    const body = await res.body.text();
    outcome = outcomeOfResponse(res.statusCode, body);
  } catch (err) {
    outcome = outcomeOfFailure(err, signal, conn?.trace, Buffer.concat(tapped).toString('utf8'));
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.destroy().catch(() => {});
    if (conn) {
      conn.socket.destroy();
      await closed(conn.socket);
    }
  }
  return { outcome, trace: conn?.trace ?? NO_CONNECTION };
}

function origin(job: ProbeJob, secure: boolean): string {
  const host = net.isIPv6(job.address) ? `[${job.address}]` : job.address;
  return `${secure ? 'https' : 'http'}://${host}:${job.targetPort}`;
}

function outcomeOfResponse(status: number, body: string): Outcome {
  if (status === 200) {
    const parsed = parseEchoJson(body);
    if (parsed.kind === 'echo') return { kind: 'echo', echo: parsed.echo, httpStatus: status };
    if (looksLikeEchoBody(body)) return { kind: 'error', message: `malformed echo reply: ${parsed.why}` };
  }
  return outcomeOfHttpStatus(status, `HTTP ${status}: ${printable(body, 80)}`);
}

function outcomeOfFailure(err: unknown, signal: AbortSignal, trace: ConnectionTrace | undefined, raw: string): Outcome {
  if (signal.aborted) return timeoutOutcome(signal, trace ?? NO_CONNECTION);
  // The echo app on a raw-TCP port answers an HTTP request with its line: the app got the bytes.
  if (raw.startsWith(ECHO_LINE_PREFIX)) return outcomeOfReplyLine(raw.split('\n', 1)[0]!);
  // undici destroys the socket with its own errors (UND_ERR_*, HPE_*): only a socket error of another origin is
  // what the peer did.
  if (trace?.error && !isUndiciError(trace.error)) return outcomeOfError(trace.error);
  // Bytes that are not HTTP are classified as the raw clients classify them (a non-echo reply is a protocol-error
  // denial), whichever error object undici reports them with.
  if (isParserError(err) || (trace?.error && isParserError(trace.error))) {
    return raw.length > 0 ? outcomeOfReplyLine(raw.split('\n', 1)[0]!) : denied('protocol-error', `invalid HTTP response: ${(err as Error).message}`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return denied('protocol-error', `response larger than ${MAX_BODY_BYTES} bytes`);
  if (code === 'UND_ERR_SOCKET' || trace?.eof) return denied('closed', 'connection closed without an HTTP response');
  return outcomeOfError(err);
}

function isUndiciError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && code.startsWith('UND_ERR_')) || isParserError(err);
}

/** undici's HTTP parser refused the peer's bytes (its HTTPParserError does not always carry an `HPE_` code). */
function isParserError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return err.name === 'HTTPParserError' || (typeof code === 'string' && code.startsWith('HPE_'));
}
