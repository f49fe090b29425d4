// @ts-check
/**
 * The node proxy's HBONE inbound on <workload address>:15008, as ztunnel terminates it (spec R6.2, R6.3, R6.6, R6.7):
 * TLS 1.3 with ALPN h2, a client certificate chaining to the mesh roots and carrying a SPIFFE ID of the mesh's trust
 * domain, the workload's own certificate presented; then HTTP/2 where only CONNECT is accepted (others 400), the
 * authority must name this workload and a port it declares (else 503, as when ztunnel cannot reach the pod port), the
 * PeerAuthentication RBAC runs against the peer identity (a deny is 401), and the stream is relayed to the app.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { uriSans } from '../reference/spiffe.mjs';
import { relay } from './relay.mjs';

export const HBONE_ALPN = ['h2'];

/**
 * @typedef {object} PortBinding
 * @property {number} port
 * @property {'tcp' | 'http'} protocol
 * @property {import('./ambient-policy.mjs').AmbientMode} mode
 * @property {number} appPort
 */
/**
 * @typedef {object} WorkloadBinding
 * @property {string} key `namespace/name`
 * @property {string} address
 * @property {string} appAddress
 * @property {string} trustDomain
 * @property {Map<number, PortBinding>} ports
 * @property {tls.SecureContextOptions} tls certificate, key and trust bundle (PEM contents)
 */
/**
 * @typedef {import('./relay.mjs').RelaySettings & { handshakeTimeoutMs: number,
 *   workloadAt: (address: string) => WorkloadBinding | undefined, stopping: () => boolean }} HboneSettings
 */

/**
 * The TLS context options of the HBONE listener (also used by SIGHUP to swap certificates in place).
 * @param {WorkloadBinding} w
 * @returns {tls.SecureContextOptions}
 */
export function hboneContextOptions(w) {
  return { ...w.tls, minVersion: 'TLSv1.3' };
}

/**
 * PeerAuthentication on an ambient data plane is a DENY for connections without a peer identity on STRICT ports
 * (spec R6.1–R6.3). The HBONE path always has one; the rule is kept whole so the two paths share one reading.
 * @param {import('./ambient-policy.mjs').AmbientMode} mode
 * @param {string | null} peer
 */
export function peerAuthenticationAllows(mode, peer) {
  return mode !== 'STRICT' || peer !== null;
}

/**
 * An unbound HBONE server for the workload at `address` (the caller listens on address:15008).
 * @param {string} address
 * @param {WorkloadBinding} initial
 * @param {HboneSettings} settings
 * @returns {tls.Server}
 */
export function createHboneServer(address, initial, settings) {
  const h2 = http2.createServer();
  /** @type {WeakMap<object, string>} */
  const peers = new WeakMap();
  /** Set just around `h2.emit('connection')`, which creates the session synchronously. */
  /** @type {string | undefined} */
  let connectingPeer;
  h2.on('session', (session) => {
    if (connectingPeer !== undefined) peers.set(session, connectingPeer);
    session.on('error', () => session.destroy());
    session.setTimeout(settings.idleTimeoutMs, () => session.destroy());
  });
  h2.on('sessionError', () => {});
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => stream.destroy());
    onStream(stream, headers, address, (stream.session && peers.get(stream.session)) ?? null, settings);
  });

  const server = new tls.Server({
    ...hboneContextOptions(initial),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: HBONE_ALPN,
    handshakeTimeout: settings.handshakeTimeoutMs,
  });
  server.on('tlsClientError', (_err, s) => s.destroy());
  server.on('secureConnection', (tlsSock) => {
    settings.track(tlsSock);
    // HTTP/2 answers in several small frames: without this, Nagle and delayed ACKs add ~40 ms per exchange.
    tlsSock.setNoDelay(true);
    tlsSock.on('error', () => tlsSock.destroy());
    const w = settings.workloadAt(address);
    if (settings.stopping() || !w) {
      tlsSock.destroy();
      return;
    }
    if (tlsSock.alpnProtocol !== 'h2') {
      settings.debug(`${w.key} HBONE: client negotiated no h2 -> close`);
      tlsSock.destroy();
      return;
    }
    const peer = meshIdentity(tlsSock, w.trustDomain);
    if (peer === null) {
      // ztunnel's TrustDomainVerifier: a certificate of the mesh CA with a SPIFFE ID outside the trust domain.
      settings.debug(`${w.key} HBONE: client identity not in trust domain ${w.trustDomain} -> close`);
      tlsSock.destroy();
      return;
    }
    connectingPeer = peer;
    try {
      h2.emit('connection', tlsSock);
    } finally {
      connectingPeer = undefined;
    }
  });
  return server;
}

/**
 * The peer's SPIFFE ID if it belongs to `trustDomain`, else null. The chain and validity were checked by the
 * handshake (rejectUnauthorized).
 * @param {tls.TLSSocket} tlsSock
 * @param {string} trustDomain
 * @returns {string | null}
 */
function meshIdentity(tlsSock, trustDomain) {
  const cert = tlsSock.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null;
  const spiffe = uriSans(cert.subjectaltname).find((u) => u.startsWith('spiffe://'));
  if (!spiffe) return null;
  const domain = spiffe.slice('spiffe://'.length).split('/', 1)[0];
  return domain === trustDomain ? spiffe : null;
}

/**
 * @param {http2.ServerHttp2Stream} stream
 * @param {http2.IncomingHttpHeaders} headers
 * @param {string} address
 * @param {string | null} peer
 * @param {HboneSettings} settings
 */
function onStream(stream, headers, address, peer, settings) {
  const w = settings.workloadAt(address);
  if (settings.stopping() || !w) {
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  const method = headers[':method'];
  const target = parseAuthority(headers[':authority']);
  /** @param {number} status @param {string} why */
  const refuse = (status, why) => {
    settings.debug(`${w.key} HBONE ${method} ${String(headers[':authority'])} from ${peer}: ${why} -> ${status}`);
    answer(stream, status);
  };
  if (method !== 'CONNECT') return refuse(400, 'not a CONNECT');
  if (!target) return refuse(400, 'authority is not address:port');
  if (target.host !== address) return refuse(400, `${target.host} is not this workload`);
  const port = w.ports.get(target.port);
  if (!port) return refuse(503, `port ${target.port} is not served`);
  if (!peerAuthenticationAllows(port.mode, peer)) return refuse(401, `${port.mode}: no peer identity`);
  settings.debug(`${w.key}:${port.port} ${port.mode} HBONE from ${peer} -> tunnel`);
  relay(stream, { host: w.appAddress, port: port.appPort, label: `${w.key}:${port.port}` }, settings, {
    onConnected: () => {
      if (!stream.destroyed) stream.respond({ ':status': 200 });
    },
    onFailed: () => answer(stream, 503),
  });
}

/**
 * @param {http2.ServerHttp2Stream} stream
 * @param {number} status
 */
function answer(stream, status) {
  if (stream.destroyed || stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  stream.respond({ ':status': status }, { endStream: true });
}

/**
 * `host:port` or `[v6]:port`; null when it is not an IP address and a port 1-65535.
 * @param {unknown} authority
 * @returns {{ host: string, port: number } | null}
 */
export function parseAuthority(authority) {
  if (typeof authority !== 'string') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(authority);
  if (!m) return null;
  const host = /** @type {string} */ (m[1] ?? m[2]);
  const port = Number(m[3]);
  if (net.isIP(host) === 0 || port < 1 || port > 65535) return null;
  return { host, port };
}
