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
 * SIGHUP: re-read the config, write a new haproxy.cfg, check it, start a new haproxy with `-sf <old>` (the old one
 * finishes its connections and leaves). SIGTERM/SIGINT: stop haproxy, remove the private folder, exit 0.
 * Start errors (haproxy missing, config rejected): one stderr line, exit 2. stdout: `ready` once haproxy runs.
 */
import { spawn, spawnSync } from 'node:child_process';
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

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

const dir = mkdtempSync(join(tmpdir(), 'meshconform-haproxy-'));
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
    abnsPrefix: `meshconform-${process.pid}-${gen}`,
    sniffTimeoutMs: intEnv('MESHCONFORM_SNIFF_TIMEOUT_MS', 5000),
  });
  const cfg = join(dir, `haproxy-${gen}.cfg`);
  writeFileSync(cfg, text, { mode: 0o600 });
  const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) {
    const alerts = `${check.stderr ?? ''}${check.stdout ?? ''}`.split('\n').filter((l) => l.includes('[ALERT]'));
    const why = alerts.slice(0, 2).map((l) => l.replace(/\s+\(\d+\) : /, ' ').trim()).join(' | ');
    throw new HarnessError(`haproxy rejected its configuration ${cfg}: ${why || `exit ${check.status}`}`);
  }
  return cfg;
}

/**
 * @param {string} cfg
 * @param {ChildProcess | undefined} previous soft-stopped by the new process once it has bound its ports
 */
function start(cfg, previous) {
  const args = ['-f', cfg, '-db', ...(previous?.pid ? ['-sf', String(previous.pid)] : [])];
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
  start(cfg, current);
  process.stdout.write('reloaded\n');
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
