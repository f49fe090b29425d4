// @ts-check
/**
 * meshconform reference ambient data plane: a ztunnel-like node proxy, one per workload (or per group of workloads),
 * that implements the spec's ambient rules (§6) exactly.
 *
 *   MESHCONFORM_WORKLOAD_CONFIG=/path/workload.json node harness/reference-ambient/ambient-proxy.mjs
 *   MESHCONFORM_WORKLOAD_CONFIGS=/a.json:/b.json node harness/reference-ambient/ambient-proxy.mjs   (several workloads)
 *
 * Per workload address:
 *   - every declared port: the captured-plaintext inbound path of clients outside the mesh. They have no peer
 *     identity, so a STRICT port closes the connection without a byte (R6.3); otherwise the bytes, TLS included, are
 *     relayed to the application untouched (R6.4).
 *   - port 15008: HBONE (hbone-server.mjs): mTLS + HTTP/2 CONNECT, relayed to the application port it names.
 * Config contract: src/model/data-plane.ts, with `mesh.mode: "ambient"` (anything else is refused at start).
 * Optional env: MESHCONFORM_IDLE_TIMEOUT_MS (default 60000), MESHCONFORM_DEBUG=1 or MESHCONFORM_ACCESS_LOG=1 (one stderr line per decision).
 * stdout lines: `ready` once 15008 and every port listen (15008 first, so "every port accepts TCP" implies it);
 * `reloaded` / `reload-failed` after each SIGHUP (re-reads config files and certificates; unusable TLS files keep the
 * previous material while the new policies apply, reported `reload-failed` naming the file). SIGTERM/SIGINT stop.
 * Start errors: one stderr line, exit 2.
 */
import net from 'node:net';
import tls from 'node:tls';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { loadTlsMaterial } from '../reference/tls-material.mjs';
import { HBONE_PORT, loadAmbientConfig } from './ambient-config.mjs';
import { ambientModeForPort, resolveAmbient } from './ambient-policy.mjs';
import { createHboneServer, hboneContextOptions } from './hbone-server.mjs';
import { relay } from './relay.mjs';

const PROGRAM = 'reference-ambient';
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** @typedef {import('./hbone-server.mjs').WorkloadBinding & { tlsError?: string }} WorkloadBinding `tlsError`: why a
 * reload kept the previous TLS material */

/** @type {Set<net.Socket>} */
const sockets = new Set();
/** @type {Map<string, net.Server>} `address|port` → captured-plaintext listener */
const portListeners = new Map();
/** @type {Map<string, tls.Server>} address → HBONE listener */
const hboneListeners = new Map();
/** @type {Map<string, WorkloadBinding>} address → what a new connection gets; replaced on reload */
let workloads = new Map();
let stopping = false;

const env = process.env;
// MESHCONFORM_ACCESS_LOG=1: the per-connection decision lines only, which the harness keeps as a failing cell's evidence.
const debugEnabled = env.MESHCONFORM_DEBUG === '1' || env.MESHCONFORM_ACCESS_LOG === '1';
/** @type {import('./hbone-server.mjs').HboneSettings} */
const settings = {
  idleTimeoutMs: 60_000,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  track: (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  },
  debug: debugEnabled ? (m) => process.stderr.write(`${PROGRAM}: ${m}\n`) : () => {},
  workloadAt: (address) => workloads.get(address),
  stopping: () => stopping,
};

try {
  await main();
} catch (err) {
  fatal(err);
}

async function main() {
  const files = configFiles();
  settings.idleTimeoutMs = intEnv('MESHCONFORM_IDLE_TIMEOUT_MS', 60_000);
  const load = () => buildWorkloads(files, workloads);
  workloads = load();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Installed before listening so an early SIGHUP is never fatal; reloads queue behind one another.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(() => reload(load));
  });
  await Promise.all([...workloads.values()].map((w) => listenHbone(w)));
  await Promise.all([...workloads.values()].flatMap((w) => [...w.ports.keys()].map((port) => listenPort(w.address, port))));
  process.stdout.write('ready\n');
}

/** @returns {string[]} */
function configFiles() {
  const one = env.MESHCONFORM_WORKLOAD_CONFIG;
  const many = env.MESHCONFORM_WORKLOAD_CONFIGS;
  if ((one && many) || (!one && !many)) {
    throw new HarnessError('set exactly one of MESHCONFORM_WORKLOAD_CONFIG (one config file) or MESHCONFORM_WORKLOAD_CONFIGS (config files joined by ":")');
  }
  if (one) return [one];
  const files = /** @type {string} */ (many).split(':').filter((f) => f.length > 0);
  if (files.length === 0) throw new HarnessError('MESHCONFORM_WORKLOAD_CONFIGS names no file');
  return files;
}

/**
 * @param {string[]} files
 * @param {ReadonlyMap<string, WorkloadBinding>} previous what is served now: a workload whose new TLS files are
 *   unusable keeps its previous material (fail-static, the data-plane contract) while its new policies apply
 * @returns {Map<string, WorkloadBinding>}
 */
function buildWorkloads(files, previous) {
  /** @type {Map<string, WorkloadBinding>} */
  const out = new Map();
  for (const file of files) {
    const config = loadAmbientConfig(file);
    const { workload, mesh } = config;
    const key = `${workload.namespace}/${workload.name}`;
    const other = out.get(workload.address);
    if (other) throw new HarnessError(`${file}: ${key} and ${other.key} both use the address ${workload.address}`);
    /** @type {tls.SecureContextOptions} */
    let pem;
    /** @type {string | undefined} */
    let tlsError;
    try {
      const material = loadTlsMaterial(config.tls, key);
      pem = { cert: material.cert, key: material.key, ca: material.ca };
      try {
        tls.createSecureContext({ ...pem, minVersion: 'TLSv1.3' });
      } catch (err) {
        throw new HarnessError(`invalid TLS material for ${key} (cert ${config.tls.certFile}, key ${config.tls.keyFile}, ca ${config.tls.caFile}): ${describeError(err)}`, {
          cause: err,
        });
      }
    } catch (err) {
      const before = previous.get(workload.address);
      if (!before || before.key !== key) throw err;
      pem = before.tls;
      tlsError = describeError(err);
    }
    const resolution = resolveAmbient({ namespace: workload.namespace, labels: workload.labels }, config.policies, mesh.rootNamespace);
    /** @type {WorkloadBinding['ports']} */
    const ports = new Map();
    for (const { port, protocol } of workload.ports) {
      ports.set(port, { port, protocol, mode: ambientModeForPort(resolution, port), appPort: /** @type {number} */ (config.app.ports[String(port)]) });
    }
    out.set(workload.address, {
      key,
      address: workload.address,
      appAddress: config.app.address,
      trustDomain: mesh.trustDomain,
      ports,
      tls: pem,
      ...(tlsError !== undefined ? { tlsError } : {}),
    });
  }
  return out;
}

/**
 * A new connection on a workload port: a client outside the mesh, so no peer identity (spec R6.2).
 * @param {net.Socket} sock
 * @param {string} address
 * @param {number} port
 */
function onPlaintext(sock, address, port) {
  settings.track(sock);
  sock.on('error', () => sock.destroy());
  sock.setTimeout(settings.idleTimeoutMs, () => sock.destroy());
  const w = workloads.get(address);
  const p = w?.ports.get(port);
  if (stopping || !w || !p) {
    sock.destroy();
    return;
  }
  if (p.mode === 'STRICT') {
    settings.debug(`${w.key}:${port} STRICT plaintext path, no peer identity -> reset`);
    // Reset once the client has spoken: closing at once races the client's first write, so the client would see a
    // reset or a clean close by timing alone. After its bytes arrived a reset is the one thing it can see.
    sock.once('data', () => sock.resetAndDestroy());
    return;
  }
  settings.debug(`${w.key}:${port} ${p.mode} plaintext path -> relay`);
  sock.setNoDelay(true);
  relay(sock, { host: w.appAddress, port: p.appPort, label: `${w.key}:${port}` }, settings);
}

/**
 * @param {net.Server} server
 * @param {string} host
 * @param {number} port
 * @returns {Promise<void>}
 */
function listenOn(server, host, port) {
  return new Promise((resolve, reject) => {
    const onError = (/** @type {Error} */ err) => {
      reject(new HarnessError(`cannot listen on ${formatHostPort(host, port)}: ${describeError(err)}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      // accept() errors (EMFILE...) must not kill the data plane
      server.on('error', (err) => process.stderr.write(`${PROGRAM}: ${formatHostPort(host, port)}: ${describeError(err)}\n`));
      resolve();
    });
  });
}

/**
 * @param {string} address
 * @param {number} port
 */
async function listenPort(address, port) {
  const server = net.createServer({ allowHalfOpen: true }, (sock) => onPlaintext(sock, address, port));
  await listenOn(server, address, port);
  portListeners.set(`${address}|${port}`, server);
}

/** @param {WorkloadBinding} w */
async function listenHbone(w) {
  const server = createHboneServer(w.address, w, settings);
  await listenOn(server, w.address, HBONE_PORT);
  hboneListeners.set(w.address, server);
}

/**
 * @param {() => Map<string, WorkloadBinding>} load
 */
async function reload(load) {
  if (stopping) return;
  /** @type {Map<string, WorkloadBinding>} */
  let next;
  try {
    next = load();
  } catch (err) {
    process.stderr.write(`${PROGRAM}: reload failed, keeping the previous configuration: ${describeError(err)}\n`);
    process.stdout.write('reload-failed\n');
    return;
  }
  let ok = true;
  const attempt = async (/** @type {() => Promise<void> | void} */ f) => {
    try {
      await f();
    } catch (err) {
      ok = false;
      process.stderr.write(`${PROGRAM}: reload: ${describeError(err)}\n`);
    }
  };
  for (const w of next.values()) {
    if (w.tlsError === undefined) continue;
    ok = false;
    process.stderr.write(`${PROGRAM}: reload: ${w.key} keeps its previous TLS material (certificate, key and trust bundle): ${w.tlsError}\n`);
  }
  for (const w of next.values()) {
    const existing = hboneListeners.get(w.address);
    // New handshakes present the (possibly rotated) certificate and trust the (possibly rotated) bundle.
    await attempt(existing ? () => existing.setSecureContext(hboneContextOptions(w)) : () => listenHbone(w));
  }
  for (const w of next.values()) {
    for (const port of w.ports.keys()) if (!portListeners.has(`${w.address}|${port}`)) await attempt(() => listenPort(w.address, port));
  }
  workloads = next;
  for (const [key, server] of portListeners) {
    const [address, port] = /** @type {[string, string]} */ (key.split('|'));
    if (next.get(address)?.ports.has(Number(port))) continue;
    server.close();
    portListeners.delete(key);
  }
  for (const [address, server] of hboneListeners) {
    if (next.has(address)) continue;
    server.close();
    hboneListeners.delete(address);
  }
  process.stdout.write(ok ? 'reloaded\n' : 'reload-failed\n');
}

function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const server of portListeners.values()) server.close();
  for (const server of hboneListeners.values()) server.close();
  for (const s of sockets) s.destroy();
  // Let the destroys flush, then leave even if a handle lingers.
  setImmediate(() => process.exit(0));
}

/** @param {unknown} err */
function fatal(err) {
  process.stderr.write(`${PROGRAM}: ${err instanceof HarnessError ? err.message : `internal error: ${err instanceof Error ? err.stack : String(err)}`}\n`);
  process.exit(2);
}

/**
 * @param {string} name
 * @param {number} fallback
 */
function intEnv(name, fallback) {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new HarnessError(`${name} must be a positive integer (milliseconds), got ${JSON.stringify(v)}`);
  return n;
}

/**
 * @param {string} host
 * @param {number} port
 */
function formatHostPort(host, port) {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
