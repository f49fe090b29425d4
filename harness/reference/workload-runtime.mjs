// @ts-check
/**
 * Everything the sidecar needs to serve one workload, built once per start or SIGHUP reload: the effective mode
 * of every port, the TLS material in force, and the TLS terminators (unbound tls.Servers fed with
 * `emit('connection')`: a hand-made TLSSocket does not enforce rejectUnauthorized).
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { modeForPort, resolveModes } from './policy.mjs';
import { SERVER_ALPN } from './decide.mjs';
import { uriSans } from './spiffe.mjs';
import { loadTlsMaterial } from './tls-material.mjs';

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
 * @property {import('./tls-material.mjs').TlsMaterial} tls the material the terminators use
 * @property {string | undefined} tlsError why this reload kept the previous TLS material (fail-static), if it did
 * @property {readonly import('./policy.mjs').PeerAuthentication[]} policies the policy set the modes come from
 * @property {number} clockOffsetMs added to the system clock for client-certificate validity
 * @property {boolean} verifyAfterHandshake the terminators admit every peer and connection.mjs verifies the chain
 * @property {number} acceptExpiredUntil defect accept-expired-during-rotation: validity errors are forgiven until
 *   this epoch time (ms); 0 when not in force
 * @property {() => boolean} failingOpen chaos defects: STRICT ports accept plaintext right now
 */
/** @typedef {(tlsSocket: tls.TLSSocket, runtime: WorkloadRuntime) => void} SecureHandler */

/** R5.1: Istio's default TLS 1.2 suites (ECDHE/AES-GCM), plus the TLS 1.3 suites BoringSSL always offers. */
const MESH_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
].join(':');

/** Defects that admit peers the handshake would refuse: the terminator then lets every peer through and
 * connection.mjs `acceptedPeer` does the (defective) check. */
const LENIENT_TLS_DEFECTS = ['strict-accepts-no-client-cert', 'accept-any-ca', 'accept-expired'];

/**
 * @typedef {object} RuntimeOptions
 * @property {ReadonlySet<string>} defects
 * @property {SecureHandler} onSecure
 * @property {number} handshakeTimeoutMs
 * @property {{ certFile: string, keyFile: string }} [serverTls] present this certificate instead of the workload's
 *   own (defect wrong-server-identity)
 * @property {WorkloadRuntime} [previous] the runtime this one replaces on a SIGHUP reload: its TLS material stays when
 *   the new files are unusable, and the chaos defects carry their state over
 * @property {number} [clockOffsetMs] MESHCONFORM_CLOCK_OFFSET_MS (default 0: OpenSSL verifies in the handshake)
 * @property {ReadonlyMap<string, number | null>} [defectParameters] from defects.mjs parseDefectSpec
 * @property {() => boolean} [failingOpen] process-wide fail-open windows (chaos defects); default never
 */

/**
 * @param {import('./config.mjs').WorkloadConfig} config
 * @param {RuntimeOptions} options
 * @returns {WorkloadRuntime}
 */
export function buildWorkloadRuntime(config, options) {
  const { workload, mesh } = config;
  const key = `${workload.namespace}/${workload.name}`;
  const previous = options.previous;
  const served = options.serverTls ?? config.tls;
  const files = { certFile: served.certFile, keyFile: served.keyFile, caFile: config.tls.caFile };
  const clockOffsetMs = options.clockOffsetMs ?? 0;

  /** @type {import('./tls-material.mjs').TlsMaterial} */
  let material;
  /** @type {string | undefined} */
  let tlsError;
  try {
    material = loadTlsMaterial(files, key);
  } catch (err) {
    if (!previous) throw err;
    material = previous.tls;
    tlsError = describeError(err);
  }

  // Defect stale-policy-after-reload: the reload keeps the policy set of the first start.
  const policies = previous && options.defects.has('stale-policy-after-reload') ? previous.policies : config.policies;
  const resolution = resolveModes({ namespace: workload.namespace, labels: workload.labels }, policies, mesh.rootNamespace, options.defects);
  /** @type {Map<number, PortRuntime>} */
  const ports = new Map();
  for (const { port, protocol } of workload.ports) {
    ports.set(port, { port, protocol, mode: modeForPort(resolution, port), appPort: /** @type {number} */ (config.app.ports[String(port)]) });
  }

  // Defect accept-expired-during-rotation: a reload that changed the material opens (or renews) the window.
  let acceptExpiredUntil = previous?.acceptExpiredUntil ?? 0;
  if (previous && options.defects.has('accept-expired-during-rotation') && material.digest !== previous.tls.digest) {
    const ms = options.defectParameters?.get('accept-expired-during-rotation') ?? null;
    acceptExpiredUntil = ms === null ? Number.POSITIVE_INFINITY : Date.now() + ms;
  }
  // With a clock offset OpenSSL's validity check (system clock) is wrong, so connection.mjs verifies the chain itself.
  const verifyAfterHandshake = LENIENT_TLS_DEFECTS.some((d) => options.defects.has(d)) || clockOffsetMs !== 0 || acceptExpiredUntil > Date.now();

  /** @type {WorkloadRuntime} */
  const runtime = {
    key,
    address: workload.address,
    appAddress: config.app.address,
    trustDomain: mesh.trustDomain,
    ownIdentity: ownIdentity(material.leaf, mesh.trustDomain, workload.namespace, workload.serviceAccount),
    ports,
    defects: options.defects,
    terminatorFor: () => {
      throw new Error('terminators not built');
    },
    tls: material,
    tlsError,
    policies,
    clockOffsetMs,
    verifyAfterHandshake,
    acceptExpiredUntil,
    failingOpen: options.failingOpen ?? (() => false),
  };
  try {
    runtime.terminatorFor = terminators(material, runtime, options);
  } catch (err) {
    // Node refused material loadTlsMaterial let through: the same fail-static rule applies.
    if (!previous || material === previous.tls) {
      throw new HarnessError(`invalid TLS material for ${key} (cert ${files.certFile}, key ${files.keyFile}, ca ${files.caFile}): ${describeError(err)}`, { cause: err });
    }
    runtime.tls = previous.tls;
    runtime.tlsError = describeError(err);
    runtime.ownIdentity = ownIdentity(previous.tls.leaf, mesh.trustDomain, workload.namespace, workload.serviceAccount);
    runtime.terminatorFor = terminators(previous.tls, runtime, options);
  }
  return runtime;
}

/**
 * The three terminators of one workload (TCP ALPN, HTTP ALPN, no ALPN) and the choice between them.
 * @param {import('./tls-material.mjs').TlsMaterial} material
 * @param {WorkloadRuntime} runtime
 * @param {RuntimeOptions} options
 * @returns {WorkloadRuntime['terminatorFor']}
 */
function terminators(material, runtime, options) {
  /** @param {readonly string[] | undefined} alpn */
  const makeServer = (alpn) => {
    /** @type {tls.TlsOptions} */
    const opts = {
      cert: material.cert,
      key: material.key,
      ca: material.ca,
      requestCert: true,
      rejectUnauthorized: !runtime.verifyAfterHandshake,
      minVersion: 'TLSv1.2',
      ciphers: MESH_CIPHERS,
      handshakeTimeout: options.handshakeTimeoutMs,
    };
    // Node fails the handshake when the client's ALPN and ALPNProtocols do not overlap, so a server that must
    // negotiate none (Envoy's behaviour on a mismatch) has no ALPN configuration at all.
    if (alpn) opts.ALPNProtocols = [...alpn];
    const server = new tls.Server(opts);
    server.on('secureConnection', (s) => options.onSecure(s, runtime));
    server.on('tlsClientError', (_err, s) => s.destroy());
    return server;
  };
  const tcpAlpn = makeServer(SERVER_ALPN.tcp);
  const httpAlpn = makeServer(SERVER_ALPN.http);
  const noAlpn = makeServer(undefined);
  return (protocol, alpn) => {
    const [list, server] = protocol === 'http' ? [SERVER_ALPN.http, httpAlpn] : [SERVER_ALPN.tcp, tcpAlpn];
    return alpn?.some((p) => list.includes(p)) ? server : noAlpn;
  };
}

/**
 * The workload certificate's SPIFFE URI SAN, else the identity Istio would give the service account.
 * @param {X509Certificate} leaf
 * @param {string} trustDomain
 * @param {string} namespace
 * @param {string} serviceAccount
 */
function ownIdentity(leaf, trustDomain, namespace, serviceAccount) {
  const spiffe = uriSans(leaf.subjectAltName).find((u) => u.startsWith('spiffe://'));
  return spiffe ?? `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
