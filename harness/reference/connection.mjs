// @ts-check
/**
 * Per-connection data path of the reference sidecar: sniff the first bytes (Envoy's tls_inspector), choose the
 * chain (decide.mjs), then close, answer a protocol error, terminate mTLS, or forward to the application.
 */
import net from 'node:net';
import { MX_ALPN, encodePreamble, readClientHeader } from '../common/peer-exchange.mjs';
import { checkRequestLine } from '../common/request-line.mjs';
import { parseClientHello } from './client-hello.mjs';
import { decide } from './decide.mjs';
import { ISSUER_ERRORS, VALIDITY_ERRORS, peerChain, verifyClientChain } from './peer-verify.mjs';
import { uriSans } from './spiffe.mjs';

/** What Envoy's HTTP/1 codec answers to bytes that are not an HTTP/1.x request. */
export const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
const EMPTY = Buffer.alloc(0);
/** After a protocol error, how long to keep draining so the client reads the 400 before the close. */
const LINGER_MS = 2000;

/**
 * @typedef {object} ConnectionSettings
 * @property {number} sniffTimeoutMs no first byte by then: a server-first client, handled as plaintext
 * @property {number} idleTimeoutMs
 * @property {(socket: net.Socket) => void} track registers a socket so shutdown can destroy it
 * @property {(message: string) => void} debug
 */
/** @typedef {{ runtime: import('./workload-runtime.mjs').WorkloadRuntime, port: import('./workload-runtime.mjs').PortRuntime }} Binding */

/**
 * A new inbound connection on a workload port. `binding` is the configuration current when it was accepted.
 * @param {net.Socket} sock
 * @param {Binding} binding
 * @param {ConnectionSettings} settings
 */
export function handleConnection(sock, binding, settings) {
  settings.track(sock);
  sock.on('error', () => sock.destroy());
  sock.setTimeout(settings.idleTimeoutMs, () => sock.destroy());
  /** @type {Buffer[]} */
  const chunks = [];
  let decided = false;

  /**
   * @param {import('./decide.mjs').Sniff} sniff
   * @param {Buffer} buf everything received so far
   */
  const finish = (sniff, buf) => {
    decided = true;
    clearTimeout(timer);
    sock.pause();
    sock.off('data', onData);
    sock.off('end', onEnd);
    act(sock, buf, sniff, binding, settings);
  };
  const abort = () => {
    decided = true;
    clearTimeout(timer);
    sock.destroy();
  };
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    if (decided) return;
    chunks.push(chunk);
    const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    if (buf[0] !== 0x16) return finish({ kind: 'plaintext' }, buf);
    const hello = parseClientHello(buf);
    switch (hello.kind) {
      case 'need-more':
        return;
      case 'client-hello':
        return finish({ kind: 'tls', alpn: hello.alpn }, buf);
      case 'not-tls': // Envoy's inspector: not TLS after all, so the raw_buffer (plaintext) chains
        return finish({ kind: 'plaintext' }, buf);
      case 'too-large':
        return abort();
    }
  };
  // A client that half-closes before the chain is known (or in the middle of a ClientHello) gets nothing.
  const onEnd = () => {
    if (!decided) abort();
  };
  const timer = setTimeout(() => {
    if (decided) return;
    if (chunks.length === 0) finish({ kind: 'plaintext' }, EMPTY);
    else abort(); // an incomplete ClientHello that stalled
  }, settings.sniffTimeoutMs);
  sock.on('data', onData);
  sock.on('end', onEnd);
}

/**
 * @param {net.Socket} sock
 * @param {Buffer} buf
 * @param {import('./decide.mjs').Sniff} sniff
 * @param {Binding} binding
 * @param {ConnectionSettings} settings
 */
function act(sock, buf, sniff, binding, settings) {
  const { runtime, port } = binding;
  // Chaos defects that fail open do, for a while, exactly what strict-accepts-plaintext does for good.
  const failOpen = port.mode === 'STRICT' && runtime.failingOpen();
  const action = decide(port.mode, port.protocol, sniff, failOpen ? new Set([...runtime.defects, 'strict-accepts-plaintext']) : runtime.defects);
  settings.debug(`${runtime.key}:${port.port} ${port.mode}/${port.protocol} ${sniff.kind}${sniff.kind === 'tls' ? ` alpn=${JSON.stringify(sniff.alpn)}` : ''} -> ${action}`);
  switch (action) {
    case 'close':
      sock.destroy();
      return;
    case 'protocol-error':
      protocolError(sock);
      return;
    case 'passthrough':
      forward(sock, buf, binding, settings);
      return;
    case 'plaintext':
      // defect http-port-accepts-raw-tcp: the HTTP codec is skipped, any bytes reach the app.
      if (port.protocol === 'http' && !runtime.defects.has('http-port-accepts-raw-tcp')) httpGate(sock, buf, null, binding, settings);
      else forward(sock, buf, binding, settings);
      return;
    case 'terminate': {
      // The TLSSocket takes over the handle and reads the unshifted ClientHello itself: never resume the raw socket.
      sock.setTimeout(0);
      // The TLSSocket inherits allowHalfOpen: off during the handshake, so a client that half-closes mid-handshake
      // is closed at once instead of waiting for the handshake timeout; handleSecureConnection turns it back on.
      sock.allowHalfOpen = false;
      const server = runtime.terminatorFor(port.protocol, sniff.kind === 'tls' ? sniff.alpn : null);
      sock.unshift(buf);
      server.emit('connection', sock);
      return;
    }
  }
}

/**
 * After a successful mTLS handshake on one of the workload's terminators.
 * @param {import('node:tls').TLSSocket} tlsSock
 * @param {import('./workload-runtime.mjs').WorkloadRuntime} runtime
 * @param {ConnectionSettings} settings
 */
export function handleSecureConnection(tlsSock, runtime, settings) {
  settings.track(tlsSock);
  tlsSock.on('error', () => tlsSock.destroy());
  const port = runtime.ports.get(tlsSock.localPort ?? -1);
  const peer = acceptedPeer(tlsSock, runtime);
  if (!port || peer === null) {
    settings.debug(`${runtime.key}:${tlsSock.localPort} mTLS peer rejected (authorized=${tlsSock.authorized}, spiffe=${peer})`);
    tlsSock.destroy();
    return;
  }
  tlsSock.allowHalfOpen = true;
  tlsSock.setTimeout(settings.idleTimeoutMs, () => tlsSock.destroy());
  const binding = { runtime, port };
  const xfcc = peer === '' ? `By=${runtime.ownIdentity}` : `By=${runtime.ownIdentity};URI=${peer}`;
  if (port.protocol === 'http') httpGate(tlsSock, EMPTY, xfcc, binding, settings);
  else if (tlsSock.alpnProtocol === MX_ALPN) peerExchange(tlsSock, binding, settings);
  else forward(tlsSock, EMPTY, binding, settings);
}

/** Bytes held while waiting for a client's metadata header; beyond this the connection is dropped. */
const MAX_MX_HOLD = 1024 * 1024;

/**
 * Istio's TCP metadata exchange on an `istio-peer-exchange` connection, as Envoy's metadata_exchange filter does it:
 * on the client's first data, write this proxy's preamble (a Struct with the workload's name and namespace); hold the
 * client's bytes until there are 8; drain a magic header (and its payload when that parses as an Any); pass every
 * other byte to the application.
 * @param {import('node:tls').TLSSocket} stream
 * @param {Binding} binding
 * @param {ConnectionSettings} settings
 */
function peerExchange(stream, binding, settings) {
  const { runtime, port } = binding;
  const slash = runtime.key.indexOf('/');
  const namespace = runtime.key.slice(0, slash);
  const name = runtime.key.slice(slash + 1);
  /** @type {Buffer} */
  let buf = EMPTY;
  let wrote = false;
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (!wrote) {
      wrote = true;
      stream.write(encodePreamble({ NAME: name, NAMESPACE: namespace, WORKLOAD_NAME: name }, `sidecar~${runtime.address}~${name}.${namespace}~${namespace}.svc.cluster.local`));
    }
    const header = readClientHeader(buf);
    if (header.state === 'need-more') {
      if (buf.length > MAX_MX_HOLD) stream.destroy();
      return;
    }
    stream.pause();
    stream.off('data', onData);
    stream.off('end', onEnd);
    const consumed = header.state === 'consumed' ? header.consumed : 0;
    settings.debug(`${runtime.key}:${port.port} istio-peer-exchange: client header ${header.state === 'consumed' ? `drained (${consumed} bytes)` : 'absent'}`);
    // defect mx-drops-first-bytes: the preamble goes out, but the client's first bytes never reach the app.
    const rest = runtime.defects.has('mx-drops-first-bytes') ? EMPTY : buf.subarray(consumed);
    forward(stream, rest, binding, settings);
  };
  // Envoy holds fewer than 8 bytes and never passes them on: a client that half-closes first gets nothing.
  const onEnd = () => stream.destroy();
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.resume();
}

/**
 * The client's mesh identity if the peer is admitted, `''` for an admitted peer without a certificate (only under
 * defect strict-accepts-no-client-cert), null if refused. Normally the terminator already refused unverified peers in
 * the handshake (rejectUnauthorized); with the TLS defects or a clock offset it admits everything and the check is
 * here: OpenSSL's verdict when the clock is the system's, else the chain verified with the proxy's clock.
 * @param {import('node:tls').TLSSocket} tlsSock
 * @param {import('./workload-runtime.mjs').WorkloadRuntime} runtime
 * @returns {string | null}
 */
function acceptedPeer(tlsSock, runtime) {
  const d = runtime.defects;
  const cert = tlsSock.getPeerCertificate(runtime.clockOffsetMs !== 0);
  if (!cert || Object.keys(cert).length === 0) return d.has('strict-accepts-no-client-cert') ? '' : null;
  const code =
    runtime.clockOffsetMs === 0
      ? tlsSock.authorized
        ? null
        : String(tlsSock.authorizationError ?? 'UNSPECIFIED')
      : ownClockVerdict(/** @type {import('node:tls').DetailedPeerCertificate} */ (cert), runtime);
  if (code !== null) {
    const acceptsExpired = d.has('accept-expired') || Date.now() < runtime.acceptExpiredUntil;
    const forgiven = (d.has('accept-any-ca') && ISSUER_ERRORS.has(code)) || (acceptsExpired && VALIDITY_ERRORS.has(code));
    if (!forgiven) return null;
  }
  // Envoy's SAN prefix matcher `spiffe://<td>/`; defect ignore-trust-domain matches any SPIFFE ID.
  const prefix = d.has('ignore-trust-domain') ? 'spiffe://' : `spiffe://${runtime.trustDomain}/`;
  return uriSans(cert.subjectaltname).find((u) => u.startsWith(prefix)) ?? null;
}

/**
 * @param {import('node:tls').DetailedPeerCertificate} cert
 * @param {import('./workload-runtime.mjs').WorkloadRuntime} runtime
 * @returns {string | null} OpenSSL verify code, null when trusted
 */
function ownClockVerdict(cert, runtime) {
  try {
    const { leaf, presented } = peerChain(cert);
    return verifyClientChain(leaf, presented, runtime.tls.roots, Date.now() + runtime.clockOffsetMs);
  } catch {
    return 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY'; // an unparsable certificate is never trusted
  }
}

/**
 * HTTP-declared port: the bytes must start with an HTTP/1.x request line, else 400. With `xfcc`, the header is
 * inserted right after the request line.
 * @param {net.Socket} stream raw or TLS socket
 * @param {Buffer} initial
 * @param {string | null} xfcc
 * @param {Binding} binding
 * @param {ConnectionSettings} settings
 */
function httpGate(stream, initial, xfcc, binding, settings) {
  let buf = initial;
  const evaluate = () => {
    const line = checkRequestLine(buf);
    if (line.state === 'need-more') return false;
    stream.pause();
    stream.off('data', onData);
    stream.off('end', onEnd);
    if (line.state === 'bad') {
      settings.debug(`${binding.runtime.key}:${binding.port.port} protocol error: ${line.reason}`);
      protocolError(stream);
      return true;
    }
    const head = xfcc === null ? buf : Buffer.concat([buf.subarray(0, line.lineEnd), Buffer.from(`x-forwarded-client-cert: ${xfcc}\r\n`, 'latin1'), buf.subarray(line.lineEnd)]);
    forward(stream, head, binding, settings);
    return true;
  };
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    evaluate();
  };
  const onEnd = () => stream.destroy();
  if (buf.length > 0 && evaluate()) return;
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.resume();
}

/**
 * Answer a 400 and close gracefully (drain what the client still sends, so it reads the answer instead of a reset).
 * @param {net.Socket} stream
 */
function protocolError(stream) {
  stream.end(BAD_REQUEST);
  stream.on('data', () => {});
  stream.resume();
  const t = setTimeout(() => stream.destroy(), LINGER_MS);
  stream.once('close', () => clearTimeout(t));
}

/**
 * Pipe the client to the application port, `head` first. An unreachable application closes the client.
 * @param {net.Socket} client raw or TLS socket, paused
 * @param {Buffer} head
 * @param {Binding} binding
 * @param {ConnectionSettings} settings
 */
function forward(client, head, binding, settings) {
  const up = net.connect({ host: binding.runtime.appAddress, port: binding.port.appPort, allowHalfOpen: true });
  settings.track(up);
  up.setNoDelay(true);
  client.setNoDelay(true);
  up.setTimeout(settings.idleTimeoutMs, () => up.destroy());
  up.on('error', (err) => {
    settings.debug(`${binding.runtime.key}:${binding.port.port} upstream ${binding.runtime.appAddress}:${binding.port.appPort}: ${err.message}`);
    up.destroy();
    client.destroy();
  });
  client.on('error', () => up.destroy());
  // A side that vanished without a clean end takes the other with it; clean ends propagate through pipe().
  client.on('close', () => {
    if (!client.readableEnded) up.destroy();
  });
  up.on('close', () => {
    if (!up.readableEnded) client.destroy();
  });
  if (head.length > 0) up.write(head);
  client.pipe(up);
  up.pipe(client);
}
