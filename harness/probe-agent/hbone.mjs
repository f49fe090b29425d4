// @ts-check
/**
 * The HBONE client kinds of the probe agent (spec R6.2, R6.7), on node:tls and node:http2 only: a NEW TCP + TLS
 * connection to `address:15008` offering ALPN h2 with the credential of the kind, one HTTP/2 CONNECT with
 * `:authority` = `address:targetPort`, then the same payload a direct client sends, through the tunnel. Classified
 * like the harness's own HBONE client (src/probe/hbone-exchange.ts): allowed only on the echo application's reply
 * (path `mtls`: the node proxy terminated the mTLS); a refused CONNECT is `http-status` (`protocol-error` for 400),
 * a server RST_STREAM `reset`, a GOAWAY or a close `closed`, HTTP/2 the client rejected `protocol-error`.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { PROBE_LINE_PREFIX, denied, jobProblem, judgeReply, observationOf, outcomeOfError, outcomeOfHttpStatus, printable } from './clients.mjs';

/** @typedef {import('./clients.mjs').ProbeJob} ProbeJob */
/** @typedef {import('./clients.mjs').ProbeContext} ProbeContext */
/** @typedef {import('./clients.mjs').Outcome} Outcome */
/** @typedef {import('./clients.mjs').Trace} Trace */
/** @typedef {import('./clients.mjs').Observation} Observation */
/** @typedef {import('./clients.mjs').CredentialName} CredentialName */
/** @typedef {'hbone'|'hbone-no-client-cert'|'hbone-foreign-ca'|'hbone-expired'|'hbone-other-trust-domain'|'hbone-unserved-port'} HboneClientKind */

export const HBONE_PORT = 15008;
const HBONE_ALPN = ['h2'];

/**
 * Credential and CONNECT target of every HBONE kind (the table of src/probe/client-profiles.ts). `unserved`: the job's
 * targetPort is a port the workload does not declare (the run layer picks it).
 * @type {Record<HboneClientKind, { credential: CredentialName | null, authority: 'served'|'unserved' }>}
 */
export const HBONE_PROFILES = {
  hbone: { credential: 'mesh', authority: 'served' },
  'hbone-no-client-cert': { credential: null, authority: 'served' },
  'hbone-foreign-ca': { credential: 'foreignCa', authority: 'served' },
  'hbone-expired': { credential: 'expired', authority: 'served' },
  'hbone-other-trust-domain': { credential: 'otherTrustDomain', authority: 'served' },
  'hbone-unserved-port': { credential: 'mesh', authority: 'unserved' },
};

/** @param {unknown} client */
export const isHboneClient = (client) => typeof client === 'string' && Object.hasOwn(HBONE_PROFILES, client);

const MAX_REPLY_BYTES = 1024 * 1024;
const NO_ERROR = 0;
const CANCEL = 8;
const FRAME_RST_STREAM = 0x3;
const FRAME_GOAWAY = 0x7;
/**
 * How long the client waits for the server to speak first after the TLS handshake before sending its preface. In TLS
 * 1.3 a client-certificate refusal arrives as an alert after the handshake: a preface written at once would meet the
 * closed connection (EPIPE, reset) before the alert is read. HTTP/2 servers send SETTINGS (and TLS session tickets)
 * unasked, so only a server that waits for the preface pays this delay.
 */
const SERVER_FIRST_GRACE_MS = 1000;

/** @type {readonly string[]} */
const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];
/** @param {number} code */
const errorName = (code) => ERROR_NAMES[code] ?? `error code ${code}`;

/**
 * One HBONE probe. Never rejects.
 * @param {ProbeJob} job
 * @param {ProbeContext} ctx
 * @param {number} timeoutMs
 * @returns {Promise<Observation>}
 */
export async function runHboneProbe(job, ctx, timeoutMs) {
  const startedAt = Date.now();
  const t0 = performance.now();
  /** @type {(message: string) => Observation} */
  const fail = (message) => ({ status: 'error', message, timings: { startedAt, totalMs: performance.now() - t0 }, attempts: 1 });
  const problem = jobProblem(job);
  if (problem) return fail(`invalid probe job ${JSON.stringify(job?.key)}: ${problem}`);
  if (!isHboneClient(job.client)) return fail(`${job.client}: not an HBONE client kind`);
  const profile = HBONE_PROFILES[/** @type {HboneClientKind} */ (job.client)];
  const secureContext = ctx.secureContext(profile.credential);
  if (!secureContext) return fail(`no client certificate material for ${job.client} (${profile.credential})`);
  if (profile.authority === 'unserved' && job.targetPort === job.port) {
    return fail(`${job.client}: the job names the served port ${job.port} as its CONNECT target; it must name a port the workload does not declare (hboneUnservedPort)`);
  }
  const { outcome, trace, tunnelMs } = await hboneExchange(job, ctx, secureContext, job.protocol === 'http' ? 'http' : 'line', timeoutMs);
  // Through an HBONE tunnel the node proxy terminated the mTLS, whoever issued its certificate (the diff judges serverIdentityOk).
  return observationOf(outcome, trace, { startedAt, totalMs: performance.now() - t0, ...(tunnelMs !== undefined ? { tunnelMs } : {}) }, () => 'mtls');
}

/**
 * @typedef {{ serverRst?: number, serverGoaway?: number, clientGoaway?: number, clientRst?: number, http2Error?: Error, socketError?: Error }} Wire
 * What the frame scanners and node:http2 saw: who reset or ended what, with which HTTP/2 error code.
 */

/**
 * @param {ProbeJob} job
 * @param {ProbeContext} ctx
 * @param {tls.SecureContext} secureContext
 * @param {'line'|'http'} payload
 * @param {number} timeoutMs
 * @returns {Promise<{ outcome: Outcome, trace: Trace, tunnelMs?: number }>}
 */
function hboneExchange(job, ctx, secureContext, payload, timeoutMs) {
  return new Promise((resolve) => {
    const host = net.isIPv6(job.address) ? `[${job.address}]` : job.address;
    const authority = `${host}:${job.targetPort}`;
    /** @type {Trace} */
    const trace = { t0: performance.now(), phase: 'connect', eof: false };
    const elapsed = () => performance.now() - trace.t0;
    /** @type {Wire} */
    const wire = {};
    let settled = false;
    let established = false;
    /** @type {number | undefined} */
    let tunnelMs;
    /** @type {http2.ClientHttp2Session | undefined} */
    let session;
    /** @type {NodeJS.Immediate | undefined} */
    let pendingFailure;
    /** @type {NodeJS.Timeout | undefined} */
    let grace;

    const socket = tls.connect({
      host: job.address,
      port: HBONE_PORT,
      secureContext,
      ALPNProtocols: HBONE_ALPN,
      // The agent judges the server certificate itself (serverIssuer, serverIdentityOk): it must see every server.
      rejectUnauthorized: false,
    });

    /** @param {Outcome} outcome */
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      if (pendingFailure) clearImmediate(pendingFailure);
      session?.destroy();
      socket.destroy();
      const done = () => resolve({ outcome, trace, ...(tunnelMs !== undefined ? { tunnelMs } : {}) });
      if (socket.closed) done();
      else socket.once('close', done);
    };
    // Errors, resets and closes arrive as several events in no fixed order: judge once they have all landed.
    const fail = () => {
      if (settled || pendingFailure) return;
      pendingFailure = setImmediate(() => finish(failureOutcome()));
    };
    const waitingFor = () =>
      trace.phase === 'connect'
        ? 'TCP connect to the HBONE port'
        : trace.phase === 'handshake'
          ? 'the TLS handshake'
          : established
            ? 'a reply through the tunnel'
            : 'the CONNECT response';
    const timer = setTimeout(() => finish(denied('timeout', `no reply within ${timeoutMs} ms (waiting for ${waitingFor()})`)), timeoutMs);

    /** @param {Error} err */
    const record = (err) => {
      if (isHttp2Error(err)) wire.http2Error ??= err;
      else wire.socketError ??= err;
    };
    /** @returns {Outcome} */
    const failureOutcome = () => {
      const what = established ? 'the tunnel' : 'the CONNECT stream';
      const before = established ? 'before the reply' : trace.phase === 'reply' ? 'before answering the CONNECT' : 'during the TLS handshake';
      if (wire.clientGoaway !== undefined && wire.clientGoaway !== NO_ERROR) {
        return denied('protocol-error', `malformed HTTP/2 from the HBONE server: the client ended the session (GOAWAY ${errorName(wire.clientGoaway)})`);
      }
      if (wire.clientRst !== undefined)
        return denied('protocol-error', `malformed HTTP/2 from the HBONE server: the client reset ${what} (RST_STREAM ${errorName(wire.clientRst)})`);
      if (wire.serverRst !== undefined) return denied('reset', `the server reset ${what} (RST_STREAM ${errorName(wire.serverRst)})`);
      const socketError = trace.error && !isHttp2Error(trace.error) ? trace.error : wire.socketError;
      if (socketError) return outcomeOfError(socketError);
      if (wire.serverGoaway !== undefined) return denied('closed', `the server ended the HTTP/2 session (GOAWAY ${errorName(wire.serverGoaway)}) ${before}`);
      if (wire.http2Error) return denied('protocol-error', `malformed HTTP/2 from the HBONE server: ${wire.http2Error.message}`);
      return denied('closed', `the server closed the connection ${before}`);
    };

    socket.once('connect', () => {
      trace.connectMs = elapsed();
      trace.phase = 'handshake';
    });
    socket.once('secureConnect', () => {
      trace.handshakeMs = elapsed() - (trace.connectMs ?? 0);
      trace.tls = ctx.tlsEvidence(socket, job.expectedServerIdentity);
      trace.phase = 'reply';
      if (!settled) startSession();
    });
    socket.on('error', (err) => {
      trace.error ??= err;
      fail();
    });
    socket.once('end', () => {
      trace.eof = true;
    });
    socket.on('close', fail);

    const startSession = () => {
      const alpn = socket.alpnProtocol;
      if (alpn !== 'h2') {
        finish(denied('protocol-error', `the HBONE server negotiated ${alpn ? `ALPN "${printable(alpn, 40)}"` : 'no ALPN'}, not h2`));
        return;
      }
      socket.setNoDelay(true);
      const inbound = frameScanner((type, streamId, code) => {
        if (type === FRAME_RST_STREAM && streamId !== 0) wire.serverRst ??= code ?? 0;
        if (type === FRAME_GOAWAY) wire.serverGoaway ??= code ?? 0;
      }, 0);
      // node:http2 does not report a GOAWAY it sends itself over malformed frames: the session just goes quiet.
      const outbound = frameScanner((type, _streamId, code) => {
        if (settled) return;
        if (type === FRAME_RST_STREAM && code !== undefined && code !== NO_ERROR && code !== CANCEL) wire.clientRst ??= code;
        if (type !== FRAME_GOAWAY) return;
        wire.clientGoaway ??= code ?? 0;
        if (wire.clientGoaway !== NO_ERROR) fail();
      }, 24);
      const tapped = tappedSocket(socket, inbound, outbound);
      let opened = false;
      const open = () => {
        if (opened || settled) return;
        opened = true;
        clearTimeout(grace);
        openSession(tapped);
      };
      grace = setTimeout(open, SERVER_FIRST_GRACE_MS);
      socket.once('data', open);
      socket.once('session', open);
    };

    /** @param {Duplex} tapped */
    const openSession = (tapped) => {
      /** @type {http2.ClientHttp2Stream} */
      let stream;
      try {
        session = http2.connect(`https://${authority}`, { createConnection: () => tapped, settings: { enablePush: false } });
        session.on('error', (err) => {
          record(err);
          fail();
        });
        session.on('close', fail);
        stream = session.request({ ':method': 'CONNECT', ':authority': authority }, { endStream: false });
      } catch (err) {
        finish({ kind: 'error', message: `probe could not open the HBONE session: ${err instanceof Error ? err.message : String(err)}` });
        return;
      }
      const tunnelStart = performance.now();
      // "Stream closed with error code NGHTTP2_…" only restates a RST_STREAM the frame scanners already saw.
      stream.on('error', (err) => {
        if (!(isHttp2Error(err) && /NGHTTP2_/.test(err.message))) record(err);
        fail();
      });
      stream.on('response', (headers) => {
        tunnelMs = performance.now() - tunnelStart;
        const status = Number(headers[':status']);
        if (!Number.isInteger(status)) finish(denied('protocol-error', 'the CONNECT response has no valid :status'));
        else if (status < 200 || status > 299) finish(outcomeOfHttpStatus(status, `CONNECT answered HTTP ${status}`));
        else {
          established = true;
          throughTunnel(stream);
        }
      });
      // Before the tunnel is up a closed stream ends the probe; after it, the payload exchange decides.
      stream.on('close', () => {
        if (!established) fail();
      });
    };

    /** The payload of a direct client, judged from the raw reply bytes like the direct clients' replies. */
    const throughTunnel = (/** @type {http2.ClientHttp2Stream} */ stream) => {
      /** @type {Buffer[]} */
      const chunks = [];
      let size = 0;
      const judge = (/** @type {boolean} */ ended) => judgeReply(Buffer.concat(chunks, size), payload, ended);
      stream.on('data', (/** @type {Buffer} */ chunk) => {
        chunks.push(chunk);
        size += chunk.length;
        const o = judge(false) ?? (size >= MAX_REPLY_BYTES ? judge(true) : undefined);
        if (o) finish(o);
      });
      stream.on('end', () => finish(judge(true) ?? denied('closed', 'the tunnel closed without a reply')));
      stream.on('close', () => {
        // Bytes already received decide (a reset after the echo reply is still an answer).
        const o = size > 0 ? judge(true) : undefined;
        if (o && o.kind !== 'denied') finish(o);
        else fail();
      });
      stream.write(
        payload === 'http' ? `GET / HTTP/1.1\r\nhost: ${authority}\r\nx-meshconform-probe: ${job.key}\r\nconnection: close\r\n\r\n` : `${PROBE_LINE_PREFIX}${job.key}\n`,
      );
    };
  });
}

/** @param {Error} err */
function isHttp2Error(err) {
  const code = /** @type {NodeJS.ErrnoException} */ (err).code;
  return typeof code === 'string' && code.startsWith('ERR_HTTP2');
}

/**
 * A Duplex over the TLS socket that shows every byte in both directions to the frame scanners. node:http2 reads a
 * real socket natively, so without it the probe could not see which side sent a RST_STREAM or GOAWAY.
 * @param {tls.TLSSocket} socket
 * @param {(chunk: Buffer) => void} onIn
 * @param {(chunk: Buffer) => void} onOut
 * @returns {Duplex}
 */
function tappedSocket(socket, onIn, onOut) {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, callback) {
      onOut(chunk);
      if (socket.destroyed) callback(new Error('socket closed'));
      else socket.write(chunk, (err) => callback(err ?? null));
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  // The socket's own error is the evidence (the trace has it); a Duplex nobody listens to yet must not throw.
  duplex.on('error', () => {});
  socket.on('data', (/** @type {Buffer} */ chunk) => {
    onIn(chunk);
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => {
    if (!duplex.destroyed) duplex.destroy();
  });
  return duplex;
}

/**
 * Follows one direction of an HTTP/2 byte stream frame by frame (RFC 9113 §4.1) without buffering payloads: only a
 * frame header and the first 8 payload bytes, where RST_STREAM (0–3) and GOAWAY (4–7) keep their error code.
 * @param {(type: number, streamId: number, errorCode: number | undefined) => void} onFrame
 * @param {number} preface bytes to skip first (24: the client connection preface)
 * @returns {(chunk: Buffer) => void}
 */
function frameScanner(onFrame, preface) {
  const HEADER = 9;
  const head = Buffer.alloc(HEADER + 8);
  let skip = preface;
  let have = 0;
  /** @type {{ type: number, streamId: number } | undefined} */
  let current;
  let remaining = 0;
  const complete = () => {
    const f = /** @type {{ type: number, streamId: number }} */ (current);
    const body = head.subarray(HEADER, have);
    /** @type {number | undefined} */
    let code;
    if (f.type === FRAME_RST_STREAM && body.length >= 4) code = body.readUInt32BE(0);
    if (f.type === FRAME_GOAWAY && body.length >= 8) code = body.readUInt32BE(4);
    current = undefined;
    have = 0;
    onFrame(f.type, f.streamId, code);
  };
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      if (!current) {
        const n = Math.min(HEADER - have, chunk.length - i);
        chunk.copy(head, have, i, i + n);
        have += n;
        i += n;
        if (have < HEADER) return;
        current = { type: /** @type {number} */ (head[3]), streamId: head.readUInt32BE(5) & 0x7fffffff };
        remaining = head.readUIntBE(0, 3);
        if (remaining === 0) complete();
        continue;
      }
      const n = Math.min(remaining, chunk.length - i);
      const keep = Math.min(n, HEADER + 8 - have);
      if (keep > 0) {
        chunk.copy(head, have, i, i + keep);
        have += keep;
      }
      remaining -= n;
      i += n;
      if (remaining === 0) complete();
    }
  };
}
