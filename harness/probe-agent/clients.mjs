// @ts-check
/**
 * The direct client kinds of the probe agent, on node:net and node:tls only: one new connection per probe, and the
 * same classification as the harness's own probes (src/probe), so an observation means the same wherever the agent
 * runs. "Allowed" is only ever the echo application's reply; a refused connect is `denied/refused`, which the diff
 * stage counts as a harness error, never as a denial.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { MX_ALPN, MX_HEADER_BYTES, encodePreamble, readPreamble } from '../common/peer-exchange.mjs';

/** @typedef {'plaintext-tcp'|'plaintext-http'|'mtls-tcp'|'mtls-http'|'tls-no-client-cert'|'mtls-foreign-ca'|'mtls-expired'|'mtls-other-trust-domain'|'tls-no-istio-alpn'} DirectClientKind */
/** @typedef {'mesh'|'foreignCa'|'expired'|'otherTrustDomain'} CredentialName */
/** @typedef {{ key: string, scenario?: string, meshMode?: string, workload: string, port: number, protocol: 'tcp'|'http', client: string, address: string, targetPort: number, expectedServerIdentity: string }} ProbeJob */
/** @typedef {{ version: string | null, alpn: string | null, serverIdentity: string | null, serverIssuer: 'mesh'|'app'|'unknown', serverIdentityOk: boolean }} TlsEvidence */
/** @typedef {{ workload: string, port: number, received: 'plaintext'|'tls', protocol: 'tcp'|'http', xfcc?: string }} EchoReply */
/** @typedef {'refused'|'reset'|'tls-alert'|'closed'|'timeout'|'protocol-error'|'http-status'} DenialKind */
/**
 * @typedef {{ kind: 'echo', echo: EchoReply, httpStatus?: number }
 *   | { kind: 'denied', how: DenialKind, detail: string, alert?: { code?: number, name: string }, httpStatus?: number }
 *   | { kind: 'error', message: string }} Outcome
 */
/** @typedef {{ startedAt: number, connectMs?: number, handshakeMs?: number, tunnelMs?: number, totalMs: number }} ProbeTimings */
/** @typedef {Record<string, unknown> & { status: 'allowed'|'denied'|'error', timings: ProbeTimings, attempts: number }} Observation */
/** @typedef {{ seen: true, workload?: string, namespace?: string }} MxEvidence */
/** @typedef {{ t0: number, phase: 'connect'|'handshake'|'reply', connectMs?: number, handshakeMs?: number, tls?: TlsEvidence, mx?: MxEvidence, error?: Error, eof: boolean }} Trace */

export const ECHO_LINE_PREFIX = 'MESHCONFORM-ECHO ';
export const PROBE_LINE_PREFIX = 'MESHCONFORM-PROBE ';
/** Istio's ALPN for a sidecar's TCP mTLS (mtlsTCPWithMxcALPNs) and for HTTP/1.1 mTLS. */
export const ISTIO_TCP_ALPN = ['istio-peer-exchange', 'istio'];
export const ISTIO_HTTP_ALPN = ['istio-http/1.1'];

const MAX_REPLY_BYTES = 64 * 1024;
const MAX_HTTP_BYTES = 1024 * 1024;
const MAX_CHAIN_DEPTH = 5;

/** @type {(p: 'tcp'|'http') => string[]} */
const istioAlpnFor = (p) => (p === 'http' ? ISTIO_HTTP_ALPN : ISTIO_TCP_ALPN);
/** @type {(p: 'tcp'|'http') => 'line'|'http'} */
const portPayload = (p) => (p === 'http' ? 'http' : 'line');

/**
 * Transport, certificate, ALPN and payload of every direct client kind (the table of src/probe/client-profiles.ts).
 * @type {Record<DirectClientKind, { tls: { credential: CredentialName | null, alpn: (p: 'tcp'|'http') => string[] | undefined } | null, payload: (p: 'tcp'|'http') => 'line'|'http' }>}
 */
export const CLIENT_PROFILES = {
  'plaintext-tcp': { tls: null, payload: () => 'line' },
  'plaintext-http': { tls: null, payload: () => 'http' },
  'mtls-tcp': { tls: { credential: 'mesh', alpn: () => ISTIO_TCP_ALPN }, payload: () => 'line' },
  'mtls-http': { tls: { credential: 'mesh', alpn: () => ISTIO_HTTP_ALPN }, payload: () => 'http' },
  'tls-no-client-cert': { tls: { credential: null, alpn: () => undefined }, payload: portPayload },
  'mtls-foreign-ca': { tls: { credential: 'foreignCa', alpn: istioAlpnFor }, payload: portPayload },
  'mtls-expired': { tls: { credential: 'expired', alpn: istioAlpnFor }, payload: portPayload },
  'mtls-other-trust-domain': { tls: { credential: 'otherTrustDomain', alpn: istioAlpnFor }, payload: portPayload },
  'tls-no-istio-alpn': { tls: { credential: 'mesh', alpn: () => undefined }, payload: portPayload },
};

/**
 * @typedef {{ secureContext(c: CredentialName | null): tls.SecureContext | undefined, tlsEvidence(s: tls.TLSSocket, expected: string): TlsEvidence }} ProbeContext
 */

/**
 * SecureContexts built once per credential set (a new one per connect costs a third of the throughput) and the CA
 * bundles that tell a mesh-terminated connection from one the echo application answered itself.
 * @param {{ meshCaPem: string, appCaPem: string, clients: Partial<Record<CredentialName, { certPem: string, keyPem: string }>> }} material
 * @returns {ProbeContext}
 */
export function createProbeContext(material) {
  const meshRoots = parseBundle(material.meshCaPem, 'meshCaPem');
  const appRoots = parseBundle(material.appCaPem, 'appCaPem');
  /** @type {Map<CredentialName | null, tls.SecureContext>} */
  const contexts = new Map([[null, tls.createSecureContext({})]]);
  for (const name of /** @type {CredentialName[]} */ (['mesh', 'foreignCa', 'expired', 'otherTrustDomain'])) {
    const c = material.clients[name];
    if (!c) continue;
    try {
      contexts.set(name, tls.createSecureContext({ cert: c.certPem, key: c.keyPem }));
    } catch (err) {
      throw new Error(`client credential ${name} is unusable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  /** @type {Map<string, TlsEvidence['serverIssuer']>} */
  const issuerCache = new Map();
  return {
    secureContext: (c) => contexts.get(c),
    tlsEvidence(socket, expected) {
      const leaf = socket.getPeerX509Certificate();
      let serverIssuer = /** @type {TlsEvidence['serverIssuer']} */ ('unknown');
      if (leaf) {
        serverIssuer = issuerCache.get(leaf.fingerprint256) ?? classifyChain(leaf, socket, meshRoots, appRoots);
        if (issuerCache.size > 4096) issuerCache.clear();
        issuerCache.set(leaf.fingerprint256, serverIssuer);
      }
      const serverIdentity = leaf ? uriSan(leaf) : null;
      return {
        version: socket.getProtocol() ?? null,
        alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
        serverIdentity,
        serverIssuer,
        serverIdentityOk: serverIssuer === 'mesh' && serverIdentity === expected,
      };
    },
  };
}

/**
 * @param {string} pem
 * @param {string} what
 */
function parseBundle(pem, what) {
  const blocks = typeof pem === 'string' ? (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) : [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new Error(`${what} is not a valid certificate bundle: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * @param {X509Certificate} cert
 * @param {X509Certificate} issuer
 */
const signedBy = (cert, issuer) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/**
 * @param {X509Certificate} leaf
 * @param {tls.TLSSocket} socket
 * @param {X509Certificate[]} meshRoots
 * @param {X509Certificate[]} appRoots
 * @returns {TlsEvidence['serverIssuer']}
 */
function classifyChain(leaf, socket, meshRoots, appRoots) {
  /** @type {X509Certificate[] | undefined} */
  let intermediates;
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (meshRoots.some((r) => signedBy(current, r))) return 'mesh';
    if (appRoots.some((r) => signedBy(current, r))) return 'app';
    intermediates ??= presentedChain(socket);
    const from = current;
    const next = intermediates.find((c) => c.ca && c.fingerprint256 !== from.fingerprint256 && signedBy(from, c));
    if (!next) break;
    current = next;
  }
  return 'unknown';
}

/** @param {tls.TLSSocket} socket */
function presentedChain(socket) {
  /** @type {X509Certificate[]} */
  const out = [];
  /** @type {tls.DetailedPeerCertificate | undefined} */
  let c = socket.getPeerCertificate(true);
  const seen = new Set();
  while (c?.raw && !seen.has(c.fingerprint256) && out.length <= MAX_CHAIN_DEPTH) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out.slice(1);
}

/**
 * The first URI SAN (a SPIFFE ID has exactly one); Node quotes values holding separators.
 * @param {X509Certificate} cert
 * @returns {string | null}
 */
export function uriSan(cert) {
  const m = /(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/.exec(cert.subjectAltName ?? '');
  if (!m || m[1] === undefined) return null;
  try {
    return m[1].startsWith('"') ? JSON.parse(m[1]) : m[1];
  } catch {
    return null;
  }
}

// ---- the denial taxonomy (src/probe/outcome.ts, tls-alerts.ts) ----

/** @type {Record<number, string>} */
const ALERT_NAMES = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/**
 * @param {{ code?: unknown, message: string }} err
 * @returns {{ code?: number, name: string } | undefined}
 */
export function receivedAlert(err) {
  const fromCode = typeof err.code === 'string' ? /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z0-9_]+)$/.exec(err.code) : null;
  const num = /SSL alert number (\d+)/.exec(err.message);
  if (!fromCode && !num) return undefined;
  const code = num ? Number(num[1]) : undefined;
  const name = (code !== undefined ? ALERT_NAMES[code] : undefined) ?? fromCode?.[1]?.toLowerCase() ?? `alert_${code}`;
  return code !== undefined ? { code, name } : { name };
}

/**
 * @param {DenialKind} how
 * @param {string} detail
 * @param {{ alert?: { code?: number, name: string }, httpStatus?: number }} [extra]
 * @returns {Outcome}
 */
export const denied = (how, detail, extra = {}) => ({ kind: 'denied', how, detail, ...extra });

const LOCAL_ERRORS = new Set([
  'EMFILE',
  'ENFILE',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'ENOBUFS',
  'ENOMEM',
  'EINVAL',
  'EACCES',
  'EPERM',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_SOCKET_BAD_PORT',
]);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE']);

/**
 * Only errors the peer (or the path to it) caused are denials; anything else is `error`, never a denial.
 * @param {unknown} err
 * @returns {Outcome}
 */
export function outcomeOfError(err) {
  if (!(err instanceof Error)) return { kind: 'error', message: `probe failed: ${String(err)}` };
  const code = /** @type {NodeJS.ErrnoException} */ (err).code;
  const detail = code ? `${code}: ${err.message}` : err.message;
  const alert = receivedAlert({ code, message: err.message });
  if (alert) return denied('tls-alert', detail, { alert });
  switch (code) {
    case 'ECONNREFUSED':
      return denied('refused', detail);
    case 'ECONNRESET':
    case 'EPIPE':
      // Node reports a clean FIN during the handshake as ECONNRESET with this message: no RST was seen.
      if (/socket disconnected before secure TLS connection was established/.test(err.message)) return denied('closed', detail);
      return denied('reset', detail);
    case 'ETIMEDOUT':
      return denied('timeout', detail);
  }
  if (code && NOT_TLS.has(code)) return denied('protocol-error', detail);
  if (code && LOCAL_ERRORS.has(code)) return { kind: 'error', message: `probe could not run: ${detail}` };
  if (code?.startsWith('ERR_SSL_')) return denied('protocol-error', detail);
  return { kind: 'error', message: `probe failed: ${detail}` };
}

/**
 * @param {string} text
 * @param {number} [max]
 */
export function printable(text, max = 120) {
  const clean = text.replace(/[^\x20-\x7e]/g, '.');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * @param {string} text
 * @returns {{ kind: 'echo', echo: EchoReply } | { kind: 'malformed', why: string }}
 */
export function parseEchoJson(text) {
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'malformed', why: `echo reply is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'malformed', why: 'echo reply is not a JSON object' };
  const v = /** @type {Record<string, unknown>} */ (value);
  if (typeof v.workload !== 'string') return { kind: 'malformed', why: 'echo reply has no string "workload"' };
  if (typeof v.port !== 'number' || !Number.isInteger(v.port)) return { kind: 'malformed', why: 'echo reply has no integer "port"' };
  if (v.received !== 'plaintext' && v.received !== 'tls') return { kind: 'malformed', why: 'echo reply "received" is not plaintext|tls' };
  if (v.protocol !== 'tcp' && v.protocol !== 'http') return { kind: 'malformed', why: 'echo reply "protocol" is not tcp|http' };
  if (v.xfcc !== undefined && typeof v.xfcc !== 'string') return { kind: 'malformed', why: 'echo reply "xfcc" is not a string' };
  return {
    kind: 'echo',
    echo: { workload: v.workload, port: v.port, received: v.received, protocol: v.protocol, ...(typeof v.xfcc === 'string' ? { xfcc: v.xfcc } : {}) },
  };
}

/**
 * @param {number} status
 * @param {string} detail
 * @returns {Outcome}
 */
export function outcomeOfHttpStatus(status, detail) {
  return status === 400 || status === 426 ? denied('protocol-error', detail, { httpStatus: status }) : denied('http-status', detail, { httpStatus: status });
}

/**
 * The first reply line of a raw exchange.
 * @param {string} line
 * @returns {Outcome}
 */
export function outcomeOfReplyLine(line) {
  if (line.startsWith(ECHO_LINE_PREFIX)) {
    const p = parseEchoJson(line.slice(ECHO_LINE_PREFIX.length).replace(/\r$/, ''));
    return p.kind === 'echo' ? { kind: 'echo', echo: p.echo } : { kind: 'error', message: `malformed echo reply: ${p.why}` };
  }
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})\b/.exec(line);
  if (status) return outcomeOfHttpStatus(Number(status[1]), printable(line));
  return denied('protocol-error', `non-echo reply: ${printable(line)}`);
}

// ---- one probe ----

/** @type {Record<Trace['phase'], string>} */
const WAITING_FOR = { connect: 'TCP connect', handshake: 'the TLS handshake', reply: 'a reply' };

/**
 * Fires one client at one workload port over a new connection. Never rejects: the result is allowed (the echo app
 * answered), denied (how) or error (the probe could not run).
 * @param {ProbeJob} job
 * @param {ProbeContext} ctx
 * @param {number} timeoutMs
 * @returns {Promise<Observation>}
 */
export async function runProbe(job, ctx, timeoutMs) {
  const startedAt = Date.now();
  const t0 = performance.now();
  /** @type {(message: string) => Observation} */
  const fail = (message) => ({ status: 'error', message, timings: { startedAt, totalMs: performance.now() - t0 }, attempts: 1 });
  const problem = jobProblem(job);
  if (problem) return fail(`invalid probe job ${JSON.stringify(job?.key)}: ${problem}`);
  if (!Object.hasOwn(CLIENT_PROFILES, job.client)) return fail(`${job.client}: the probe agent has no such client kind`);
  const profile = CLIENT_PROFILES[/** @type {DirectClientKind} */ (job.client)];
  /** @type {{ secureContext: tls.SecureContext, alpn: string[] | undefined } | null} */
  let tlsOptions = null;
  if (profile.tls) {
    const secureContext = ctx.secureContext(profile.tls.credential);
    if (!secureContext) return fail(`no client certificate material for ${job.client} (${profile.tls.credential})`);
    tlsOptions = { secureContext, alpn: profile.tls.alpn(job.protocol) };
  }
  const { outcome, trace } = await exchange(job, ctx, tlsOptions, profile.payload(job.protocol), timeoutMs);
  return observationOf(outcome, trace, { startedAt, totalMs: performance.now() - t0 }, (echo) => {
    const issuer = trace.tls?.serverIssuer ?? 'unknown';
    return !tlsOptions ? 'plaintext' : issuer === 'mesh' ? 'mtls' : issuer === 'app' || echo.received === 'tls' ? 'passthrough' : 'mtls';
  });
}

/**
 * The Observation of one finished exchange; `pathOf` names the path of an allowed one.
 * @param {Outcome} outcome
 * @param {Trace} trace
 * @param {{ startedAt: number, totalMs: number, tunnelMs?: number }} t
 * @param {(echo: EchoReply) => 'plaintext'|'mtls'|'passthrough'} pathOf
 * @returns {Observation}
 */
export function observationOf(outcome, trace, t, pathOf) {
  const timings = {
    startedAt: t.startedAt,
    ...(trace.connectMs !== undefined ? { connectMs: trace.connectMs } : {}),
    ...(trace.handshakeMs !== undefined ? { handshakeMs: trace.handshakeMs } : {}),
    ...(t.tunnelMs !== undefined ? { tunnelMs: t.tunnelMs } : {}),
    totalMs: t.totalMs,
  };
  const base = { timings, attempts: 1, ...(trace.tls ? { tls: trace.tls } : {}), ...(trace.mx ? { mx: trace.mx } : {}) };
  switch (outcome.kind) {
    case 'echo':
      return { ...base, status: 'allowed', path: pathOf(outcome.echo), echo: outcome.echo, ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}) };
    case 'denied':
      return {
        ...base,
        status: 'denied',
        how: outcome.how,
        detail: outcome.detail,
        ...(outcome.alert ? { alert: outcome.alert } : {}),
        ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
      };
    default:
      return { ...base, status: 'error', message: outcome.message };
  }
}

const CONTROL = /[\x00-\x1f\x7f]/;

/** @param {ProbeJob} job */
export function jobProblem(job) {
  if (typeof job !== 'object' || job === null) return 'not an object';
  if (typeof job.key !== 'string' || job.key === '' || CONTROL.test(job.key)) return 'key must be a non-empty single-line string';
  if (typeof job.client !== 'string') return 'no client kind';
  if (job.protocol !== 'tcp' && job.protocol !== 'http') return `unknown port protocol "${String(job.protocol)}"`;
  if (typeof job.address !== 'string' || net.isIP(job.address) === 0) return 'target address must be an IP address';
  if (!Number.isInteger(job.targetPort) || job.targetPort < 1 || job.targetPort > 65535) return `bad target port ${String(job.targetPort)}`;
  if (typeof job.expectedServerIdentity !== 'string') return 'no expected server identity';
  return undefined;
}

/** The header the agent sends first on `istio-peer-exchange`, as an Istio sidecar client does (a well-formed Any). */
const PROBE_MX_HEADER = encodePreamble({ NAME: 'meshconform-probe', WORKLOAD_NAME: 'meshconform-probe' }, 'meshconform-probe');

/**
 * A broken metadata-exchange preamble: the data plane accepted the connection and began Istio's exchange, so it is
 * evidence neither of a denial nor of the application's answer.
 * @param {string} why
 * @returns {Outcome}
 */
const mxError = (why) => ({ kind: 'error', message: `istio-peer-exchange preamble: ${why}` });

/** @param {Buffer} buf a preamble prefix */
const incompletePreamble = (buf) =>
  buf.length < MX_HEADER_BYTES ? `${buf.length} of the 8 header bytes` : `${buf.length - MX_HEADER_BYTES} of ${buf.readUInt32BE(4)} payload bytes`;

/**
 * One connection: connect (and TLS), send the payload, read one reply, close. Both payloads are judged from the raw
 * bytes, so a raw echo line on an HTTP exchange is still the application's answer. On ALPN `istio-peer-exchange` the
 * agent sends its metadata header first and reads the server's preamble before the reply (common/peer-exchange.mjs);
 * bytes without the magic are judged as usual.
 * @param {ProbeJob} job
 * @param {ProbeContext} ctx
 * @param {{ secureContext: tls.SecureContext, alpn: string[] | undefined } | null} tlsOptions
 * @param {'line'|'http'} payload
 * @param {number} timeoutMs
 * @returns {Promise<{ outcome: Outcome, trace: Trace }>}
 */
function exchange(job, ctx, tlsOptions, payload, timeoutMs) {
  return new Promise((resolve) => {
    /** @type {Trace} */
    const trace = { t0: performance.now(), phase: 'connect', eof: false };
    const elapsed = () => performance.now() - trace.t0;
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let settled = false;
    /** `pending`: MX negotiated, the preamble (or its absence) not yet known. */
    let mx = /** @type {'off'|'pending'|'done'} */ ('off');
    /** Where the application's reply starts (after a preamble). */
    let replyStart = 0;
    const socket = tlsOptions
      ? tls.connect({
          host: job.address,
          port: job.targetPort,
          secureContext: tlsOptions.secureContext,
          ...(tlsOptions.alpn ? { ALPNProtocols: [...tlsOptions.alpn] } : {}),
          // The agent judges the server certificate itself (serverIssuer, serverIdentityOk): it must see every server.
          rejectUnauthorized: false,
        })
      : net.connect({ host: job.address, port: job.targetPort });
    const send = () => {
      trace.phase = 'reply';
      const host = net.isIPv6(job.address) ? `[${job.address}]` : job.address;
      const body = Buffer.from(
        payload === 'http'
          ? `GET / HTTP/1.1\r\nhost: ${host}:${job.targetPort}\r\nx-meshconform-probe: ${job.key}\r\nconnection: close\r\n\r\n`
          : `${PROBE_LINE_PREFIX}${job.key}\n`,
        'utf8',
      );
      if (trace.tls?.alpn === MX_ALPN) {
        mx = 'pending';
        socket.write(Buffer.concat([PROBE_MX_HEADER, body])); // well over the 8 bytes Envoy waits for
      } else {
        socket.write(body);
      }
    };
    /** @param {Outcome} outcome */
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (socket.closed) resolve({ outcome, trace });
      else socket.once('close', () => resolve({ outcome, trace }));
    };
    const timer = setTimeout(
      () =>
        finish(
          mx === 'pending' && size > 0
            ? mxError(`incomplete within the probe deadline: ${incompletePreamble(Buffer.concat(chunks, size))} arrived`)
            : denied('timeout', `no reply within ${timeoutMs} ms (waiting for ${WAITING_FOR[trace.phase]})`),
        ),
      timeoutMs,
    );
    /** The reply so far, judged; `undefined` while more bytes may complete it. A partial preamble at the end is an error. */
    const judge = (/** @type {boolean} */ ended) => {
      const buf = Buffer.concat(chunks, size);
      if (mx === 'pending') {
        if (size === 0) return undefined;
        const r = readPreamble(buf);
        if (r.state === 'need-more') return ended ? mxError(`truncated: the connection ended after ${incompletePreamble(buf)}`) : undefined;
        if (r.state === 'bad') return mxError(r.why);
        mx = 'done';
        if (r.state === 'ok') {
          trace.mx = { seen: true, ...r.peer };
          replyStart = r.consumed;
        }
      }
      const rest = buf.subarray(replyStart);
      if (ended && rest.length === 0 && trace.mx) return denied('closed', 'connection closed after the istio-peer-exchange preamble without a reply');
      return judgeReply(rest, payload, ended);
    };

    socket.once('connect', () => {
      trace.connectMs = elapsed();
      if (tlsOptions) trace.phase = 'handshake';
      else send();
    });
    if (tlsOptions) {
      socket.once('secureConnect', () => {
        trace.handshakeMs = elapsed() - (trace.connectMs ?? 0);
        trace.tls = ctx.tlsEvidence(/** @type {tls.TLSSocket} */ (socket), job.expectedServerIdentity);
        send();
      });
    }
    socket.on('data', (/** @type {Buffer} */ chunk) => {
      chunks.push(chunk);
      size += chunk.length;
      const o = judge(false);
      if (o) finish(o);
    });
    socket.on('error', (err) => {
      trace.error ??= err;
      // Bytes already received decide (a reset after the echo reply is still an answer).
      const o = size > 0 ? judge(true) : undefined;
      finish(o && o.kind !== 'denied' ? o : outcomeOfError(err));
    });
    socket.once('end', () => {
      trace.eof = true;
      finish(judge(true) ?? denied('closed', 'connection closed without a reply'));
    });
    socket.once('close', () =>
      finish(
        trace.error
          ? outcomeOfError(trace.error)
          : size > 0
            ? (judge(true) ?? denied('closed', 'connection closed without a reply'))
            : denied('closed', 'connection closed without a reply'),
      ),
    );
  });
}

/**
 * The reply bytes of one exchange so far, judged; `undefined` while more bytes may complete it. Both payloads are
 * judged from the raw bytes, so a raw echo line on an HTTP exchange is still the application's answer.
 * @param {Buffer} buf
 * @param {'line'|'http'} payload
 * @param {boolean} ended
 * @returns {Outcome | undefined}
 */
export function judgeReply(buf, payload, ended) {
  if (payload === 'line' || buf.subarray(0, ECHO_LINE_PREFIX.length).toString('latin1') === ECHO_LINE_PREFIX) {
    const nl = buf.indexOf(0x0a);
    if (nl >= 0) return outcomeOfReplyLine(buf.subarray(0, nl).toString('utf8'));
    if (ended || buf.length >= MAX_REPLY_BYTES) return buf.length > 0 ? outcomeOfReplyLine(buf.toString('utf8')) : denied('closed', 'connection closed without a reply');
    return undefined;
  }
  return judgeHttp(buf, ended);
}

/**
 * An HTTP/1.x response read from raw bytes: complete once the headers and the body (content-length, chunked, or up
 * to EOF) are in.
 * @param {Buffer} buf
 * @param {boolean} ended
 * @returns {Outcome | undefined}
 */
function judgeHttp(buf, ended) {
  if (buf.length === 0) return ended ? denied('closed', 'connection closed without an HTTP response') : undefined;
  const prefix = 'HTTP/1.';
  const n = Math.min(buf.length, prefix.length);
  if (buf.subarray(0, n).toString('latin1') !== prefix.slice(0, n)) {
    // Not HTTP at all: what the peer sent instead (a raw line, TLS bytes, garbage).
    const nl = buf.indexOf(0x0a);
    if (nl < 0 && !ended && buf.length < MAX_REPLY_BYTES) return undefined;
    return denied('protocol-error', `invalid HTTP response: ${printable(buf.subarray(0, nl >= 0 ? nl : 120).toString('latin1'))}`);
  }
  if (buf.length < prefix.length && !ended) return undefined;
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (ended || buf.length >= MAX_HTTP_BYTES) return denied('protocol-error', `incomplete HTTP response: ${printable(buf.subarray(0, 120).toString('latin1'))}`);
    return undefined;
  }
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.\d (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return denied('protocol-error', `invalid HTTP status line: ${printable(lines[0] ?? '')}`);
  const status = Number(m[1]);
  /** @type {Map<string, string>} */
  const headers = new Map();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  const rest = buf.subarray(end + 4);
  /** @type {Buffer | undefined} */
  let body;
  const length = headers.get('content-length');
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    body = dechunk(rest);
    if (!body && !ended) return undefined;
    body ??= rest;
  } else if (length !== undefined && /^\d+$/.test(length)) {
    if (rest.length < Number(length)) {
      if (!ended) return undefined;
      return denied('protocol-error', `HTTP body shorter than its content-length (${rest.length} of ${length} bytes)`);
    }
    body = rest.subarray(0, Number(length));
  } else {
    if (!ended && buf.length < MAX_HTTP_BYTES) return undefined;
    body = rest;
  }
  const text = body.toString('utf8');
  if (status === 200) {
    const parsed = parseEchoJson(text);
    if (parsed.kind === 'echo') return { kind: 'echo', echo: parsed.echo, httpStatus: status };
    if (/^\s*\{/.test(text) && text.includes('"workload"') && text.includes('"received"')) return { kind: 'error', message: `malformed echo reply: ${parsed.why}` };
  }
  return outcomeOfHttpStatus(status, `HTTP ${status}: ${printable(text, 80)}`);
}

/**
 * A complete chunked body, or `undefined` while chunks are missing.
 * @param {Buffer} buf
 */
function dechunk(buf) {
  /** @type {Buffer[]} */
  const parts = [];
  let i = 0;
  for (;;) {
    const nl = buf.indexOf('\r\n', i);
    if (nl < 0) return undefined;
    const n = parseInt(buf.subarray(i, nl).toString('latin1'), 16);
    if (!Number.isFinite(n)) return undefined;
    if (n === 0) return Buffer.concat(parts);
    if (buf.length < nl + 2 + n + 2) return undefined;
    parts.push(buf.subarray(nl + 2, nl + 2 + n));
    i = nl + 2 + n + 2;
  }
}
