// @ts-check
/**
 * Everything the sidecar needs to serve one workload, built once per start or SIGHUP reload: the effective mode
 * of every port, and the TLS terminators (unbound tls.Servers fed with `emit('connection')`: ENVIRONMENT.md §4,
 * a hand-made TLSSocket does not enforce rejectUnauthorized).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { modeForPort, resolveModes } from './policy.mjs';
import { SERVER_ALPN } from './decide.mjs';
import { uriSans } from './spiffe.mjs';

/**
 * @typedef {object} PortRuntime
 * @property {number} port workload port (where the sidecar listens)
 * @property {import('./config.mjs').PortProtocol} protocol
 * @property {import('./policy.mjs').MtlsMode} mode effective mode
 * @property {number} appPort
 */
/**
 * @typedef {object} WorkloadRuntime
 * @property {string} key `namespace/name`
 * @property {string} address
 * @property {string} appAddress
 * @property {string} trustDomain
 * @property {string} ownIdentity SPIFFE ID of the workload certificate (XFCC `By=`)
 * @property {Map<number, PortRuntime>} ports
 * @property {ReadonlySet<string>} defects
 * @property {(protocol: import('./config.mjs').PortProtocol, alpn: readonly string[] | null) => tls.Server} terminatorFor
 */
/** @typedef {(tlsSocket: tls.TLSSocket, runtime: WorkloadRuntime) => void} SecureHandler */

/** R5.1: Istio's default TLS 1.2 suites (ECDHE/AES-GCM), plus the TLS 1.3 suites BoringSSL always offers. */
const MESH_CIPHERS = [
  'TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384', 'AES128-GCM-SHA256',
].join(':');

/** Defects that admit peers the handshake would refuse: the terminator then lets every peer through and
 * connection.mjs `acceptedPeer` does the (defective) check. */
const LENIENT_TLS_DEFECTS = ['strict-accepts-no-client-cert', 'accept-any-ca', 'accept-expired'];

/**
 * @param {import('./config.mjs').WorkloadConfig} config
 * @param {{ defects: ReadonlySet<string>, onSecure: SecureHandler, handshakeTimeoutMs: number,
 *   serverTls?: { certFile: string, keyFile: string } }} options `serverTls`: present this certificate instead of
 *   the workload's own (defect wrong-server-identity)
 * @returns {WorkloadRuntime}
 */
export function buildWorkloadRuntime(config, options) {
  const { workload, mesh } = config;
  const key = `${workload.namespace}/${workload.name}`;
  const served = options.serverTls ?? config.tls;
  const cert = readPem(served.certFile, key, 'certificate');
  const privateKey = readPem(served.keyFile, key, 'key');
  const ca = readPem(config.tls.caFile, key, 'trust bundle');

  const resolution = resolveModes({ namespace: workload.namespace, labels: workload.labels }, config.policies, mesh.rootNamespace, options.defects);
  /** @type {Map<number, PortRuntime>} */
  const ports = new Map();
  for (const { port, protocol } of workload.ports) {
    ports.set(port, { port, protocol, mode: modeForPort(resolution, port), appPort: /** @type {number} */ (config.app.ports[String(port)]) });
  }

  /** @type {WorkloadRuntime} */
  const runtime = {
    key,
    address: workload.address,
    appAddress: config.app.address,
    trustDomain: mesh.trustDomain,
    ownIdentity: ownIdentity(cert, mesh.trustDomain, workload.namespace, workload.serviceAccount),
    ports,
    defects: options.defects,
    terminatorFor: () => noAlpn,
  };
  /** @param {readonly string[] | undefined} alpn */
  const makeServer = (alpn) => {
    /** @type {tls.TlsOptions} */
    const opts = {
      cert,
      key: privateKey,
      ca,
      requestCert: true,
      rejectUnauthorized: !LENIENT_TLS_DEFECTS.some((d) => options.defects.has(d)),
      minVersion: 'TLSv1.2',
      ciphers: MESH_CIPHERS,
      handshakeTimeout: options.handshakeTimeoutMs,
    };
    // Node fails the handshake when the client's ALPN and ALPNProtocols do not overlap, so a server that must
    // negotiate none (Envoy's behaviour on a mismatch) has no ALPN configuration at all.
    if (alpn) opts.ALPNProtocols = [...alpn];
    let server;
    try {
      server = new tls.Server(opts);
    } catch (err) {
      throw new HarnessError(
        `invalid TLS material for ${key} (cert ${config.tls.certFile}, key ${config.tls.keyFile}, ca ${config.tls.caFile}): ${describeError(err)}`,
        { cause: err },
      );
    }
    server.on('secureConnection', (s) => options.onSecure(s, runtime));
    server.on('tlsClientError', (_err, s) => s.destroy());
    return server;
  };
  const tcpAlpn = makeServer(SERVER_ALPN.tcp);
  const httpAlpn = makeServer(SERVER_ALPN.http);
  const noAlpn = makeServer(undefined);
  runtime.terminatorFor = (protocol, alpn) => {
    const [list, server] = protocol === 'http' ? [SERVER_ALPN.http, httpAlpn] : [SERVER_ALPN.tcp, tcpAlpn];
    return alpn && alpn.some((p) => list.includes(p)) ? server : noAlpn;
  };
  return runtime;
}

/**
 * @param {string} file
 * @param {string} workload
 * @param {string} what
 */
function readPem(file, workload, what) {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HarnessError(`cannot read TLS ${what} file ${file} for ${workload}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * The workload certificate's SPIFFE URI SAN, else the identity Istio would give the service account.
 * @param {Buffer} certPem
 * @param {string} trustDomain
 * @param {string} namespace
 * @param {string} serviceAccount
 */
function ownIdentity(certPem, trustDomain, namespace, serviceAccount) {
  try {
    const spiffe = uriSans(new X509Certificate(certPem).subjectAltName).find((u) => u.startsWith('spiffe://'));
    if (spiffe) return spiffe;
  } catch {
    // unparsable here is reported by tls.Server creation
  }
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
