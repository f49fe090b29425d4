import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { ProbeJob } from '../model/index.js';
import { PROBE_LINE_PREFIX, looksLikeEchoBody, parseEchoJson, payloadId } from './echo-reply.js';
import { HBONE_ALPN, HBONE_PORT } from './hbone.js';
import { FRAME_GOAWAY, FRAME_RST_STREAM, FrameScanner, http2ErrorName } from './http2-frames.js';
import { closed, openConnection, type ConnectionTrace } from './open-connection.js';
import { denied, outcomeOfError, outcomeOfHttpStatus, outcomeOfReplyLine, printable, type Outcome } from './outcome.js';
import type { ProbeContext } from './probe-context.js';
import { TappedSocket } from './tapped-socket.js';

const MAX_REPLY_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_TAP_BYTES = 4096;
const NO_ERROR = 0;
/**
 * How long the client waits for the server to speak first after the TLS handshake before sending its preface. HTTP/2
 * servers (node, hyper/h2 in ztunnel) send SETTINGS at once, and a TLS 1.3 client-certificate refusal arrives as an
 * alert after the handshake: waiting lets the probe read that alert instead of racing it into a reset, even on a
 * loaded machine. Only a server that waits for the client's preface first pays this delay.
 */
const SERVER_FIRST_GRACE_MS = 1000;
const CANCEL = 8;

export interface HboneOptions {
  /** Client certificate (or none) for the mTLS to the node proxy. */
  readonly secureContext: tls.SecureContext;
  /** What goes through the tunnel: the line a raw probe sends, or an HTTP/1.1 GET. */
  readonly payload: 'line' | 'http';
}

export interface HboneResult {
  readonly outcome: Outcome;
  /** TCP and TLS of the connection to the node proxy's HBONE port. */
  readonly trace: ConnectionTrace;
  /** CONNECT round trip: request sent to `:status` received. */
  readonly tunnelMs?: number;
}

/** What the frame scanners saw: who reset or ended what, with which HTTP/2 error code. */
interface Wire {
  serverRst?: number;
  serverGoaway?: number;
  clientGoaway?: number;
  /** A RST_STREAM our client sent (other than CANCEL): it rejected the server's frames on the stream. */
  clientRst?: number;
  /** The first node:http2 error (a protocol violation the library detected). */
  http2Error?: Error;
  /** The first socket-level error the session or stream reported (a write into a connection the server closed). */
  socketError?: Error;
}

/**
 * One HBONE probe (spec R6.2, R6.7): a NEW TCP + TLS connection to `address:15008` offering ALPN h2, an HTTP/2
 * CONNECT with `:authority` = `address:targetPort`, then the same payload a direct client sends, through the tunnel.
 * Never rejects. Allowed only on the echo application's reply; a refused CONNECT is `http-status` (or
 * `protocol-error` for 400), a server RST_STREAM `reset`, a GOAWAY or a close `closed`, HTTP/2 the client could
 * not parse `protocol-error`.
 */
export function hboneExchange(job: ProbeJob, ctx: ProbeContext, options: HboneOptions, signal: AbortSignal): Promise<HboneResult> {
  return new Promise((resolve) => new HboneProbe(job, ctx, options, signal, resolve).start());
}

/** The state of one HBONE probe, from TCP connect to its one outcome. */
class HboneProbe {
  private readonly job: ProbeJob;
  private readonly options: HboneOptions;
  private readonly signal: AbortSignal;
  private readonly resolve: (result: HboneResult) => void;
  private readonly authority: string;
  private readonly wire: Wire = {};
  private readonly socket: net.Socket;
  private readonly trace: ConnectionTrace;
  private settled = false;
  private established = false;
  private tunnelStart = 0;
  private tunnelMs: number | undefined;
  private session: http2.ClientHttp2Session | undefined;
  private pendingFailure: NodeJS.Immediate | undefined;
  private grace: NodeJS.Timeout | undefined;

  constructor(job: ProbeJob, ctx: ProbeContext, options: HboneOptions, signal: AbortSignal, resolve: (result: HboneResult) => void) {
    this.job = job;
    this.options = options;
    this.signal = signal;
    this.resolve = resolve;
    this.authority = `${net.isIPv6(job.address) ? `[${job.address}]` : job.address}:${job.targetPort}`;
    const { socket, trace } = openConnection({ ...job, targetPort: HBONE_PORT }, ctx, { secureContext: options.secureContext, alpn: HBONE_ALPN }, (s) => {
      if (!this.settled) this.startSession(s as tls.TLSSocket);
    });
    this.socket = socket;
    this.trace = trace;
  }

  start(): void {
    this.socket.on('error', this.fail);
    this.socket.on('close', this.fail);
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    if (this.signal.aborted) this.onAbort();
  }

  private finish(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.pendingFailure) clearImmediate(this.pendingFailure);
    clearTimeout(this.grace);
    this.session?.destroy();
    this.socket.destroy();
    void closed(this.socket).then(() => this.resolve({ outcome, trace: this.trace, ...(this.tunnelMs !== undefined ? { tunnelMs: this.tunnelMs } : {}) }));
  }

  /** Errors, resets and closes arrive as several events in no fixed order: judge once they have all landed. */
  private readonly fail = (): void => {
    if (this.settled || this.pendingFailure) return;
    this.pendingFailure = setImmediate(() => this.finish(this.failureOutcome()));
  };

  private waitingFor(): string {
    if (this.trace.phase === 'connect') return 'TCP connect to the HBONE port';
    if (this.trace.phase === 'handshake') return 'the TLS handshake';
    return this.established ? 'a reply through the tunnel' : 'the CONNECT response';
  }

  private readonly onAbort = (): void => {
    const reason = this.signal.reason instanceof Error ? this.signal.reason.message : 'probe deadline passed';
    this.finish(denied('timeout', `${reason} (waiting for ${this.waitingFor()})`));
  };

  private record(err: Error): void {
    if (isHttp2Error(err)) this.wire.http2Error ??= err;
    else this.wire.socketError ??= err;
  }

  private failureOutcome(): Outcome {
    const { wire, trace } = this;
    const what = this.established ? 'the tunnel' : 'the CONNECT stream';
    const before = this.established ? 'before the reply' : trace.phase === 'reply' ? 'before answering the CONNECT' : 'during the TLS handshake';
    if (wire.clientGoaway !== undefined && wire.clientGoaway !== NO_ERROR) {
      return denied('protocol-error', `malformed HTTP/2 from the HBONE server: the client ended the session (GOAWAY ${http2ErrorName(wire.clientGoaway)})`);
    }
    if (wire.clientRst !== undefined) {
      return denied('protocol-error', `malformed HTTP/2 from the HBONE server: the client reset ${what} (RST_STREAM ${http2ErrorName(wire.clientRst)})`);
    }
    if (wire.serverRst !== undefined) return denied('reset', `the server reset ${what} (RST_STREAM ${http2ErrorName(wire.serverRst)})`);
    const socketError = trace.error && !isHttp2Error(trace.error) ? trace.error : wire.socketError;
    if (socketError) return outcomeOfError(socketError);
    if (wire.serverGoaway !== undefined) return denied('closed', `the server ended the HTTP/2 session (GOAWAY ${http2ErrorName(wire.serverGoaway)}) ${before}`);
    if (wire.http2Error) return denied('protocol-error', `malformed HTTP/2 from the HBONE server: ${wire.http2Error.message}`);
    return denied('closed', `the server closed the connection ${before}`);
  }

  private startSession(tlsSocket: tls.TLSSocket): void {
    const alpn = tlsSocket.alpnProtocol;
    if (alpn !== 'h2') {
      this.finish(denied('protocol-error', `the HBONE server negotiated ${alpn ? `ALPN "${printable(alpn, 40)}"` : 'no ALPN'}, not h2`));
      return;
    }
    // HTTP/2 writes several small frames in a row: without this, Nagle and delayed ACKs add ~40 ms per exchange.
    tlsSocket.setNoDelay(true);
    const tapped = this.tapFrames(tlsSocket);
    // In TLS 1.3 a server refuses the client certificate only after the client's handshake finished: a preface
    // written at once would meet the closed connection (EPIPE, reset) before the alert is read. So the client
    // speaks once the server has (its session ticket or its SETTINGS, which servers send unasked), or after a
    // short grace for a server that waits for the preface. The alert, EOF or error is then what the probe sees.
    let opened = false;
    const open = () => {
      if (opened || this.settled) return;
      opened = true;
      clearTimeout(this.grace);
      this.openSession(tapped);
    };
    this.grace = setTimeout(open, SERVER_FIRST_GRACE_MS);
    tlsSocket.once('data', open);
    tlsSocket.once('session', open);
  }

  /** The TLS socket behind frame scanners in both directions, which note every RST_STREAM and GOAWAY in `wire`. */
  private tapFrames(tlsSocket: tls.TLSSocket): TappedSocket {
    const wire = this.wire;
    const inbound = new FrameScanner(
      (f) => {
        if (f.type === FRAME_RST_STREAM && f.streamId !== 0) wire.serverRst ??= f.errorCode ?? 0;
        if (f.type === FRAME_GOAWAY) wire.serverGoaway ??= f.errorCode ?? 0;
      },
      { clientPreface: false },
    );
    // node:http2 does not report a GOAWAY it sends itself over malformed frames: the session just goes quiet.
    const outbound = new FrameScanner(
      (f) => {
        if (this.settled) return;
        if (f.type === FRAME_RST_STREAM && f.errorCode !== undefined && f.errorCode !== NO_ERROR && f.errorCode !== CANCEL) wire.clientRst ??= f.errorCode;
        if (f.type !== FRAME_GOAWAY) return;
        wire.clientGoaway ??= f.errorCode ?? 0;
        if (wire.clientGoaway !== NO_ERROR) this.fail();
      },
      { clientPreface: true },
    );
    return new TappedSocket(
      tlsSocket,
      (c) => inbound.push(c),
      (c) => outbound.push(c),
    );
  }

  private openSession(tapped: TappedSocket): void {
    let stream: http2.ClientHttp2Stream;
    try {
      const session = http2.connect(`https://${this.authority}`, { createConnection: () => tapped, settings: { enablePush: false } });
      this.session = session;
      session.on('error', (err) => {
        this.record(err);
        this.fail();
      });
      session.on('close', this.fail);
      stream = session.request({ ':method': 'CONNECT', ':authority': this.authority }, { endStream: false });
    } catch (err) {
      this.finish({ kind: 'error', message: `probe could not open the HBONE session: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    this.tunnelStart = performance.now();
    // "Stream closed with error code NGHTTP2_…" only restates a RST_STREAM the frame scanners already saw.
    stream.on('error', (err) => {
      if (!(isHttp2Error(err) && /NGHTTP2_/.test(err.message))) this.record(err);
      this.fail();
    });
    stream.on('response', (headers) => this.onConnectResponse(stream, headers));
    // Before the tunnel is up a closed stream ends the probe; after it, the payload exchange decides.
    stream.on('close', () => {
      if (!this.established) this.fail();
    });
  }

  private onConnectResponse(stream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    this.tunnelMs = performance.now() - this.tunnelStart;
    const status = Number(headers[':status']);
    if (!Number.isInteger(status)) {
      this.finish(denied('protocol-error', 'the CONNECT response has no valid :status'));
    } else if (status < 200 || status > 299) {
      this.finish(outcomeOfHttpStatus(status, `CONNECT answered HTTP ${status}`));
    } else {
      this.established = true;
      if (this.options.payload === 'http') this.httpThroughTunnel(stream);
      else this.lineThroughTunnel(stream);
    }
  }

  private lineThroughTunnel(stream: http2.ClientHttp2Stream): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const received = () => Buffer.concat(chunks, size).toString('utf8');
    stream.on('data', (chunk: Buffer) => {
      this.trace.received?.push(chunk);
      chunks.push(chunk);
      size += chunk.length;
      if (chunk.includes(0x0a)) {
        const text = received();
        this.finish(outcomeOfReplyLine(text.slice(0, text.indexOf('\n'))));
      } else if (size >= MAX_REPLY_BYTES) {
        this.finish(outcomeOfReplyLine(received()));
      }
    });
    stream.on('end', () => this.finish(size > 0 ? outcomeOfReplyLine(received()) : denied('closed', 'the tunnel closed without a reply')));
    stream.on('close', this.fail);
    stream.write(`${PROBE_LINE_PREFIX}${payloadId(this.job)}\n`);
  }

  private httpThroughTunnel(stream: http2.ClientHttp2Stream): void {
    const tapped: Buffer[] = [];
    let tappedBytes = 0;
    stream.on('data', (chunk: Buffer) => {
      this.trace.received?.push(chunk);
      if (tappedBytes < MAX_TAP_BYTES) {
        tapped.push(chunk);
        tappedBytes += chunk.length;
      }
    });
    const raw = () => Buffer.concat(tapped).toString('utf8');
    const req = http.request({
      createConnection: () => stream as unknown as net.Socket,
      method: 'GET',
      path: '/',
      headers: { host: this.authority, 'x-meshconform-probe': payloadId(this.job), connection: 'close' },
    });
    req.on('response', (res) => {
      const body: Buffer[] = [];
      let bodyBytes = 0;
      res.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
        if (bodyBytes > MAX_BODY_BYTES) this.finish(denied('protocol-error', `response larger than ${MAX_BODY_BYTES} bytes`));
        else body.push(chunk);
      });
      res.on('end', () => this.finish(outcomeOfTunnelResponse(res.statusCode ?? 0, Buffer.concat(body).toString('utf8'))));
      res.on('error', this.fail);
      res.on('aborted', this.fail);
    });
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('HPE_')) {
        const text = raw();
        this.finish(text.length > 0 ? outcomeOfReplyLine(text.split('\n', 1)[0]!) : denied('protocol-error', `invalid HTTP response through the tunnel: ${err.message}`));
        return;
      }
      this.fail();
    });
    req.on('close', this.fail);
    req.end();
  }
}

function isHttp2Error(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code.startsWith('ERR_HTTP2');
}

function outcomeOfTunnelResponse(status: number, body: string): Outcome {
  if (status === 200) {
    const parsed = parseEchoJson(body);
    if (parsed.kind === 'echo') return { kind: 'echo', echo: parsed.echo, httpStatus: status };
    if (looksLikeEchoBody(body)) return { kind: 'error', message: `malformed echo reply: ${parsed.why}` };
  }
  return outcomeOfHttpStatus(status, `HTTP ${status} through the tunnel: ${printable(body, 80)}`);
}
