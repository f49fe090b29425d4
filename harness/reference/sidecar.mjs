// @ts-check
/**
 * meshconform reference sidecar: the data plane that implements the spec's sidecar rules exactly.
 *
 *   MESHCONFORM_WORKLOAD_CONFIG=/path/workload.json node harness/reference/sidecar.mjs
 *   MESHCONFORM_WORKLOAD_CONFIGS=/a.json:/b.json node harness/reference/sidecar.mjs   (several workloads, scale runs)
 *
 * Optional env: MESHCONFORM_DEFECTS (comma list, see defects.mjs), MESHCONFORM_SNIFF_TIMEOUT_MS (default 5000),
 * MESHCONFORM_IDLE_TIMEOUT_MS (default 60000), MESHCONFORM_DEBUG=1 or MESHCONFORM_ACCESS_LOG=1 (one stderr line per connection decision),
 * MESHCONFORM_CLOCK_OFFSET_MS (integer, may be negative: added to the system clock for client-certificate validity),
 * MESHCONFORM_FAIL_OPEN_AT (epoch ms: when defect fail-open-window opens; default the end of the first SIGHUP reload).
 * stdout lines: `ready` once every port listens; `reloaded` / `reload-failed` after each SIGHUP.
 * SIGHUP re-reads the config file(s) and the TLS material (certificate, key, trust bundle): new connections get both at
 * once. Unusable TLS files keep the previous material of that workload (fail-static; the policies still apply) and
 * the reload reports `reload-failed` with a stderr line naming the file. SIGTERM/SIGINT stop.
 * Start errors: one stderr line, exit 2.
 * `node sidecar.mjs --list-defects` prints the defect catalogue as JSON and exits (what the CLI validates against).
 */
import net from 'node:net';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { loadWorkloadConfig } from './config.mjs';
import { handleConnection, handleSecureConnection } from './connection.mjs';
import { DEFECTS, FAIL_OPEN_AT_ENV, parseDefectSpec, parseFailOpenAt } from './defects.mjs';
import { parseClockOffset } from './peer-verify.mjs';
import { buildWorkloadRuntime } from './workload-runtime.mjs';

const PROGRAM = 'reference-sidecar';
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** @typedef {import('./connection.mjs').Binding} Binding */
/** @typedef {import('./workload-runtime.mjs').WorkloadRuntime} WorkloadRuntime */
/** @typedef {import('./defects.mjs').DefectSpec} DefectSpec */
/**
 * @typedef {object} Loaded
 * @property {Map<string, Binding>} bindings
 * @property {Map<string, WorkloadRuntime>} runtimes `file|namespace/name` → runtime, what the next reload replaces
 */

/** @type {Set<net.Socket>} */
const sockets = new Set();
/** @type {Map<string, net.Server>} listener key `address|port` → server */
const listeners = new Map();
/** @type {Map<string, Binding>} listener key → what a new connection gets; replaced on reload */
let bindings = new Map();
/** @type {Map<string, WorkloadRuntime>} */
let runtimes = new Map();
let stopping = false;
/** Epoch-ms windows [from, until) in which STRICT ports accept plaintext (chaos defects). */
const failOpenWindows = /** @type {{ from: number, until: number }[]} */ ([]);

const env = process.env;
// MESHCONFORM_ACCESS_LOG=1: the per-connection decision lines only, which the harness keeps as a failing cell's evidence.
const debugEnabled = env.MESHCONFORM_DEBUG === '1' || env.MESHCONFORM_ACCESS_LOG === '1';
/** @type {import('./connection.mjs').ConnectionSettings} */
const settings = {
  sniffTimeoutMs: 0,
  idleTimeoutMs: 0,
  track: (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  },
  debug: debugEnabled ? (m) => process.stderr.write(`${PROGRAM}: ${m}\n`) : () => {},
};

if (process.argv.includes('--list-defects')) {
  process.stdout.write(`${JSON.stringify(DEFECTS)}\n`);
} else {
  try {
    await main();
  } catch (err) {
    fatal(err);
  }
}

async function main() {
  const files = configFiles();
  settings.sniffTimeoutMs = intEnv('MESHCONFORM_SNIFF_TIMEOUT_MS', 5000);
  settings.idleTimeoutMs = intEnv('MESHCONFORM_IDLE_TIMEOUT_MS', 60_000);
  const spec = parseDefectSpec(env.MESHCONFORM_DEFECTS);
  const clockOffsetMs = parseClockOffset(env.MESHCONFORM_CLOCK_OFFSET_MS);
  const failOpenAt = spec.defects.has('fail-open-window') ? parseFailOpenAt(env[FAIL_OPEN_AT_ENV]) : undefined;
  // In MESHCONFORM_TMPDIR (kept across restarts of this data plane, removed by the harness), else beside the config.
  const marker = spec.defects.has('fail-open-on-restart')
    ? env.MESHCONFORM_TMPDIR
      ? join(env.MESHCONFORM_TMPDIR, 'meshconform-started')
      : `${files[0]}.meshconform-started`
    : undefined;
  const restarted = marker !== undefined && existsSync(marker);
  if (failOpenAt !== undefined) openFailWindow(spec, 'fail-open-window', failOpenAt);
  if (clockOffsetMs !== 0) settings.debug(`client certificates are checked against the system clock ${clockOffsetMs > 0 ? '+' : ''}${clockOffsetMs} ms`);
  /** @param {Map<string, WorkloadRuntime>} previous */
  const load = (previous) => buildBindings(files, spec, clockOffsetMs, previous);

  ({ bindings, runtimes } = load(new Map()));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Installed before listening so an early SIGHUP is never fatal; reloads queue behind one another.
  let reloading = Promise.resolve();
  let hups = 0;
  process.on('SIGHUP', () => {
    const first = hups++ === 0 && spec.defects.has('fail-open-window') && failOpenAt === undefined;
    reloading = reloading.then(() => reload(load));
    // From the end of the reload: every millisecond of the window is one the proxy serves in, so its length is what a
    // prober can see (a window opened at the signal would shrink by however long the reload blocked the loop).
    if (first) reloading = reloading.then(() => openFailWindow(spec, 'fail-open-window', Date.now()));
  });
  await Promise.all([...bindings.keys()].map((key) => listen(key)));
  if (restarted) openFailWindow(spec, 'fail-open-on-restart', Date.now());
  else if (marker !== undefined) markServed(marker);
  process.stdout.write('ready\n');
}

/**
 * Defect fail-open-on-restart tells a restart from a first start by a marker in MESHCONFORM_TMPDIR (or beside the
 * first config file), written once the proxy serves; the harness removes that folder, marker included, with the run.
 * @param {string} marker
 */
function markServed(marker) {
  try {
    writeFileSync(marker, `${process.pid}\n`);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: fail-open-on-restart: cannot write ${marker} (restarts will not be recognised): ${describeError(err)}\n`);
  }
}

/**
 * @param {DefectSpec} spec
 * @param {'fail-open-on-restart' | 'fail-open-window'} defect
 * @param {number} from epoch ms
 */
function openFailWindow(spec, defect, from) {
  const ms = spec.parameters.get(defect) ?? 0;
  failOpenWindows.push({ from, until: from + ms });
  settings.debug(`${defect}: STRICT ports accept plaintext from ${new Date(from).toISOString()} for ${ms} ms`);
}

function failingOpen() {
  if (failOpenWindows.length === 0) return false;
  const now = Date.now();
  return failOpenWindows.some((w) => now >= w.from && now < w.until);
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
 * @param {DefectSpec} spec
 * @param {number} clockOffsetMs
 * @param {Map<string, WorkloadRuntime>} previous the runtimes in force (empty at start)
 * @returns {Loaded}
 */
function buildBindings(files, spec, clockOffsetMs, previous) {
  const { defects } = spec;
  /** @type {Map<string, Binding>} */
  const out = new Map();
  /** @type {Map<string, WorkloadRuntime>} */
  const built = new Map();
  for (const file of files) {
    const config = loadWorkloadConfig(file);
    const serverTls = defects.has('wrong-server-identity') ? otherWorkloadTls(file, config) : undefined;
    const id = `${file}|${config.workload.namespace}/${config.workload.name}`;
    const before = previous.get(id);
    const runtime = buildWorkloadRuntime(config, {
      ...(serverTls ? { serverTls } : {}),
      ...(before ? { previous: before } : {}),
      defects,
      defectParameters: spec.parameters,
      clockOffsetMs,
      failingOpen,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      onSecure: (tlsSock, rt) => handleSecureConnection(tlsSock, rt, settings),
    });
    built.set(id, runtime);
    for (const port of runtime.ports.values()) {
      const key = listenerKey(runtime.address, port.port);
      const other = out.get(key);
      if (other) throw new HarnessError(`${file}: ${runtime.key} and ${other.runtime.key} both declare ${runtime.address}:${port.port}`);
      out.set(key, { runtime, port });
    }
  }
  return { bindings: out, runtimes: built };
}

/**
 * Defect wrong-server-identity: the certificate of another workload (another SPIFFE ID) from a workload config
 * beside `file`, the next one in name order (cyclically). Undefined when there is none (a one-workload scenario).
 * @param {string} file
 * @param {import('./config.mjs').WorkloadConfig} config
 * @returns {{ certFile: string, keyFile: string } | undefined}
 */
function otherWorkloadTls(file, config) {
  const dir = dirname(file);
  const own = file.slice(dir.length + 1);
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort();
  const start = names.indexOf(own);
  const ownId = `${config.workload.namespace}/${config.workload.serviceAccount}`;
  for (let i = 1; i < names.length; i++) {
    const name = /** @type {string} */ (names[(start + i) % names.length]);
    let other;
    try {
      other = loadWorkloadConfig(join(dir, name));
    } catch {
      continue; // not a workload config (the echo app's, a half-written file)
    }
    if (`${other.workload.namespace}/${other.workload.serviceAccount}` !== ownId) return { certFile: other.tls.certFile, keyFile: other.tls.keyFile };
  }
  return undefined;
}

/**
 * @param {string} address
 * @param {number} port
 */
function listenerKey(address, port) {
  return `${address}|${port}`;
}

/**
 * Open the listener for `key`; every connection looks its binding up when accepted, so a reload applies to new
 * connections only.
 * @param {string} key
 * @returns {Promise<void>}
 */
function listen(key) {
  const [host, portText] = /** @type {[string, string]} */ (key.split('|'));
  const port = Number(portText);
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const binding = bindings.get(key);
    if (stopping || !binding) {
      sock.destroy();
      return;
    }
    handleConnection(sock, binding, settings);
  });
  return new Promise((resolve, reject) => {
    const onError = (/** @type {Error} */ err) => {
      reject(new HarnessError(`cannot listen on ${formatHostPort(host, port)}: ${describeError(err)}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      // accept() errors (EMFILE...) must not kill the data plane
      server.on('error', (err) => process.stderr.write(`${PROGRAM}: ${formatHostPort(host, port)}: ${describeError(err)}\n`));
      listeners.set(key, server);
      resolve();
    });
  });
}

/**
 * @param {(previous: Map<string, WorkloadRuntime>) => Loaded} load
 */
async function reload(load) {
  if (stopping) return;
  /** @type {Map<string, Binding>} */
  let next;
  try {
    const loaded = load(runtimes);
    next = loaded.bindings;
    runtimes = loaded.runtimes;
  } catch (err) {
    process.stderr.write(`${PROGRAM}: reload failed, keeping the previous configuration: ${describeError(err)}\n`);
    process.stdout.write('reload-failed\n');
    return;
  }
  let ok = true;
  for (const rt of runtimes.values()) {
    if (rt.tlsError === undefined) continue;
    ok = false;
    process.stderr.write(`${PROGRAM}: reload: ${rt.key} keeps its previous TLS material (certificate, key and trust bundle): ${rt.tlsError}\n`);
  }
  for (const key of next.keys()) {
    if (listeners.has(key)) continue;
    try {
      await listen(key);
    } catch (err) {
      ok = false;
      process.stderr.write(`${PROGRAM}: reload: ${describeError(err)}\n`);
    }
  }
  bindings = next;
  for (const [key, server] of listeners) {
    if (next.has(key)) continue;
    server.close();
    listeners.delete(key);
  }
  process.stdout.write(ok ? 'reloaded\n' : 'reload-failed\n');
}

function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const server of listeners.values()) server.close();
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
