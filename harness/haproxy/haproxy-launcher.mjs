// @ts-check
/**
 * `--data-plane haproxy`: Debian's HAProxy (OpenSSL) as a third-party data plane, behind the data-plane contract.
 *
 *   MESHCONFORM_WORKLOAD_CONFIG=/path/workload.json node harness/haproxy/haproxy-launcher.mjs
 *
 * HAProxy knows nothing of PeerAuthentication, so this launcher resolves the effective mode of every port itself
 * (with the reference sidecar's resolver, harness/reference/policy.mjs) and writes a haproxy.cfg for those modes
 * (haproxy-config.mjs). What a run on it proves is HAProxy's TLS stack and the harness's probes and denial
 * classification against it, not policy resolution.
 * Optional env: MESHCONFORM_HAPROXY_BIN (default `haproxy`), MESHCONFORM_SNIFF_TIMEOUT_MS (default 5000).
 * SIGHUP: re-read the config, write a new haproxy.cfg, check it, start a new haproxy with `-x <stats socket> -sf <old>`:
 * HAProxy's seamless reload (management guide, "-x"; `expose-fd listeners` on the stats socket): the new process takes
 * the old one's listening sockets over instead of binding its own, so connections queued on them are not reset; the
 * old one finishes its connections and leaves. The next reload waits until the new process answers on the stats
 * socket. SIGTERM/SIGINT: stop haproxy, remove the private folder, exit 0.
 * Start errors (haproxy missing, config rejected): one stderr line, exit 2. stdout: `ready` once haproxy runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { loadWorkloadConfig } from '../reference/config.mjs';
import { modeForPort, resolveModes } from '../reference/policy.mjs';
import { renderHaproxyConfig } from './haproxy-config.mjs';

const PROGRAM = 'haproxy-launcher';
const HAPROXY = process.env.MESHCONFORM_HAPROXY_BIN || 'haproxy';
const STOP_GRACE_MS = 4000;
/** How long a reload waits for the new haproxy to serve before the next reload may hand its sockets on. */
const RELOAD_READY_MS = 10_000;

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

// Its keys and configs go in MESHCONFORM_TMPDIR (data-plane contract), which the harness removes even after a
// SIGKILL; a folder of its own in the system's temp folder only when started without it.
const dir = process.env.MESHCONFORM_TMPDIR ? mkdtempSync(join(process.env.MESHCONFORM_TMPDIR, 'h-')) : mkdtempSync(join(tmpdir(), 'meshconform-haproxy-'));
/** The stats socket each generation listens on and hands its listening sockets over through. */
const statsSocket = join(dir, 'admin.sock');
let generation = 0;
/** @type {ChildProcess | undefined} the haproxy serving now */
let current;
/** @type {Set<ChildProcess>} */
const all = new Set();
let stopping = false;

try {
  main();
} catch (err) {
  fatal(err);
}

function main() {
  const file = process.env.MESHCONFORM_WORKLOAD_CONFIG;
  if (!file) throw new HarnessError('MESHCONFORM_WORKLOAD_CONFIG must name the workload config file (the haproxy data plane serves one workload per process)');
  const version = spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' });
  if (version.error) {
    throw new HarnessError(`cannot run ${HAPROXY}: ${describeError(version.error)}; install Debian's haproxy (apt-get install haproxy) or set MESHCONFORM_HAPROXY_BIN`);
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const cfg = writeConfig(file);
  start(cfg, undefined);
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(() => reload(file));
  });
  process.stdout.write('ready\n');
}

/**
 * Resolve modes, render, write and check haproxy.cfg for the next generation. Throws a HarnessError on any problem.
 * @param {string} file
 * @returns {string} the checked config path
 */
function writeConfig(file) {
  const config = loadWorkloadConfig(file);
  const resolution = resolveModes({ namespace: config.workload.namespace, labels: config.workload.labels }, config.policies, config.mesh.rootNamespace);
  let pem;
  try {
    pem = `${readFileSync(config.tls.certFile, 'utf8').trim()}\n${readFileSync(config.tls.keyFile, 'utf8').trim()}\n`;
  } catch (err) {
    throw new HarnessError(`cannot read the workload certificate or key: ${describeError(err)}`, { cause: err });
  }
  const gen = generation++;
  const certFile = join(dir, `server-${gen}.pem`);
  writeFileSync(certFile, pem, { mode: 0o600 });
  const text = renderHaproxyConfig({
    address: config.workload.address,
    appAddress: config.app.address,
    ports: config.workload.ports.map((p) => ({
      port: p.port,
      protocol: p.protocol,
      mode: modeForPort(resolution, p.port),
      appPort: /** @type {number} */ (config.app.ports[String(p.port)]),
    })),
    certFile,
    caFile: config.tls.caFile,
    abnsPrefix: `meshconform-${process.pid}-${dir.slice(-6)}`,
    sniffTimeoutMs: intEnv('MESHCONFORM_SNIFF_TIMEOUT_MS', 5000),
    statsSocket,
  });
  const cfg = join(dir, `haproxy-${gen}.cfg`);
  writeFileSync(cfg, text, { mode: 0o600 });
  const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) {
    const alerts = `${check.stderr ?? ''}${check.stdout ?? ''}`.split('\n').filter((l) => l.includes('[ALERT]'));
    const why = alerts
      .slice(0, 2)
      .map((l) => l.replace(/\s+\(\d+\) : /, ' ').trim())
      .join(' | ');
    throw new HarnessError(`haproxy rejected its configuration ${cfg}: ${why || `exit ${check.status}`}`);
  }
  return cfg;
}

/**
 * @param {string} cfg
 * @param {ChildProcess | undefined} previous soft-stopped by the new process once it has taken its sockets over
 * @returns {ChildProcess}
 */
function start(cfg, previous) {
  const args = ['-f', cfg, '-db', ...(previous?.pid ? ['-x', statsSocket, '-sf', String(previous.pid)] : [])];
  const child = spawn(HAPROXY, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  all.add(child);
  current = child;
  child.once('error', (err) => fatal(new HarnessError(`cannot start ${HAPROXY}: ${describeError(err)}`)));
  child.once('exit', (code, signal) => {
    all.delete(child);
    if (stopping) {
      if (all.size === 0) finish(0);
      return;
    }
    if (child !== current) return; // an old generation leaving after a reload
    process.stderr.write(`${PROGRAM}: haproxy exited (${signal ? `signal ${signal}` : `exit code ${code}`})\n`);
    finish(code && code > 0 ? code : 1);
  });
  return child;
}

/** @param {string} file */
async function reload(file) {
  if (stopping) return;
  let cfg;
  try {
    cfg = writeConfig(file);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: reload failed, keeping the previous configuration: ${describeError(err)}\n`);
    process.stdout.write('reload-failed\n');
    return;
  }
  const child = start(cfg, current);
  // The next reload takes its sockets from this process: wait until it serves (it answers on the stats socket).
  if (!(await serving(child))) process.stderr.write(`${PROGRAM}: the reloaded haproxy (pid ${child.pid ?? '?'}) did not answer on its stats socket within ${RELOAD_READY_MS} ms\n`);
  process.stdout.write('reloaded\n');
}

/**
 * Whether `child` answers `show info` on the stats socket with its own pid (the old process stops accepting there
 * once the new one has taken over), polled until RELOAD_READY_MS passes or the child exits.
 * @param {ChildProcess} child
 * @returns {Promise<boolean>}
 */
async function serving(child) {
  const end = Date.now() + RELOAD_READY_MS;
  while (Date.now() < end && child.exitCode === null && child.signalCode === null && !stopping) {
    const pid = await statsPid();
    if (pid === child.pid) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** @returns {Promise<number | undefined>} the pid of the haproxy answering on the stats socket */
function statsPid() {
  return new Promise((resolve) => {
    const s = createConnection(statsSocket);
    let text = '';
    const done = () => {
      s.destroy();
      const m = /^Pid: (\d+)$/m.exec(text);
      resolve(m ? Number(m[1]) : undefined);
    };
    s.setTimeout(1000, done);
    s.on('connect', () => s.end('show info\n'));
    s.on('data', (b) => (text += String(b)));
    s.on('error', done);
    s.on('close', done);
  });
}

function stop() {
  if (stopping) return;
  stopping = true;
  if (all.size === 0) finish(0);
  for (const c of all) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of all) c.kill('SIGKILL');
    finish(0);
  }, STOP_GRACE_MS).unref();
}

/** @param {number} code */
function finish(code) {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}

/** @param {unknown} err */
function fatal(err) {
  process.stderr.write(`${PROGRAM}: ${err instanceof HarnessError ? err.message : `internal error: ${err instanceof Error ? err.stack : String(err)}`}\n`);
  for (const c of all) c.kill('SIGKILL');
  finish(2);
}

/**
 * @param {string} name
 * @param {number} fallback
 */
function intEnv(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new HarnessError(`${name} must be a positive whole number, got ${JSON.stringify(v)}`);
  return n;
}
