// @ts-check
/**
 * meshconform container entrypoint (docker backend): PID 1 of one workload container. It runs the echo application
 * and the data plane side by side, sidecar-style, on the container's own address, and forwards signals.
 *
 *   MESHCONFORM_DATA_PLANE_ARGV='["node","/meshconform/harness/reference/sidecar.mjs"]'
 *   MESHCONFORM_ECHO_ARGV='["node","/meshconform/harness/echo/echo-app.mjs"]'
 *   node /meshconform/harness/container/entrypoint.mjs
 *
 * The harness copies in /meshconform/config/: workload.json (a WorkloadConfig whose addresses and app ports are
 * filled in here, because only the container knows them), the workload certificate, key and CA, and the echo app's
 * own certificate. The data plane gets an ordinary WorkloadConfig file through MESHCONFORM_WORKLOAD_CONFIG: the
 * contract is unchanged. SIGHUP: re-read workload.json (new policies), rewrite the data plane's file atomically,
 * forward SIGHUP. SIGTERM/SIGINT: stop both. Either child exiting ends the container with its exit code. Each child
 * leads its own process group, so a stop takes what it forked too; the data plane gets MESHCONFORM_TMPDIR.
 * stdout lines: `meshconform-entrypoint: started <address> ...` once both are launched; errors: one line, exit 2.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { HarnessError, describeError } from '../common/harness-error.mjs';

const PROGRAM = 'meshconform-entrypoint';
const CONFIG_DIR = process.env.MESHCONFORM_CONFIG_DIR ?? '/meshconform/config';
const RUN_DIR = process.env.MESHCONFORM_RUN_DIR ?? '/meshconform/run';
const TEMPLATE = `${CONFIG_DIR}/workload.json`;
const WORKLOAD_CONFIG = `${RUN_DIR}/workload.json`;
const ECHO_READY_MS = 10_000;
const STOP_GRACE_MS = 5000;

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** @type {{ label: string, child: ChildProcess }[]} */
const children = [];
let stopping = false;

try {
  await main();
} catch (err) {
  fail(err);
}

async function main() {
  const dataPlaneArgv = argvFromEnv('MESHCONFORM_DATA_PLANE_ARGV');
  const echoArgv = argvFromEnv('MESHCONFORM_ECHO_ARGV');
  let template = readTemplate();
  const address = ownAddress();
  const workloadKey = `${template.workload.namespace}/${template.workload.name}`;
  const declared = template.workload.ports.map((p) => p.port);
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // The echo app first: the data plane's config needs the ports it got.
  writeAtomic(
    `${RUN_DIR}/echo.json`,
    JSON.stringify({
      listeners: declared.map((port) => ({ workload: workloadKey, port, address, appPort: 0 })),
      tls: { certFile: `${CONFIG_DIR}/app-cert.pem`, keyFile: `${CONFIG_DIR}/app-key.pem` },
      // The probe ids the app received; the harness reads them with `docker exec` after each round of probes.
      receiptsFile: `${RUN_DIR}/echo-receipts.jsonl`,
    }),
  );
  const echo = await launch('echo application', echoArgv, { MESHCONFORM_ECHO_CONFIG: `${RUN_DIR}/echo.json` }, 'pipe');
  const appPorts = await echoPorts(echo, workloadKey, declared);
  const clash = declared.filter((p) => Object.values(appPorts).includes(p));
  if (clash.length > 0) {
    throw new HarnessError(
      `port clash inside the container: the echo application was given port ${clash.join(', ')}, which the workload declares; run again (ephemeral port) or declare another port`,
    );
  }

  /** @param {WorkloadTemplate} t */
  const render = (t) => ({ ...t, workload: { ...t.workload, address }, app: { address, ports: appPorts } });
  writeAtomic(WORKLOAD_CONFIG, JSON.stringify(render(template), null, 2));
  // The data plane's private temporary folder (data-plane contract); it goes with the container.
  const tmpDir = `${RUN_DIR}/data-plane-tmp`;
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const dataPlane = await launch('data plane', dataPlaneArgv, { MESHCONFORM_WORKLOAD_CONFIG: WORKLOAD_CONFIG, MESHCONFORM_TMPDIR: tmpDir }, 'inherit');

  process.on('SIGHUP', () => {
    try {
      template = readTemplate();
      writeAtomic(WORKLOAD_CONFIG, JSON.stringify(render(template), null, 2));
    } catch (err) {
      process.stderr.write(`${PROGRAM}: policy update not applied: ${describeError(err)}\n`);
      return;
    }
    if (dataPlane.exitCode === null && dataPlane.signalCode === null) dataPlane.kill('SIGHUP');
  });
  process.stdout.write(`${PROGRAM}: started ${address} ports ${declared.join(',')} (data plane pid ${dataPlane.pid})\n`);
}

/**
 * @typedef {{ workload: { name: string, namespace: string, ports: { port: number }[], [k: string]: unknown }, [k: string]: unknown }} WorkloadTemplate
 * @returns {WorkloadTemplate}
 */
function readTemplate() {
  let raw;
  try {
    raw = JSON.parse(readFileSync(TEMPLATE, 'utf8'));
  } catch (err) {
    throw new HarnessError(`cannot read ${TEMPLATE}: ${describeError(err)}`, { cause: err });
  }
  const w = raw?.workload;
  if (typeof w?.name !== 'string' || typeof w?.namespace !== 'string' || !Array.isArray(w?.ports) || w.ports.length === 0) {
    throw new HarnessError(`${TEMPLATE}: workload.name, workload.namespace and workload.ports are required`);
  }
  return raw;
}

/**
 * The container's address on its network: the first non-internal IPv4 address (eth0 on a bridge network).
 * @returns {string}
 */
function ownAddress() {
  const all = Object.entries(networkInterfaces());
  all.sort(([a], [b]) => (a === 'eth0' ? -1 : b === 'eth0' ? 1 : a.localeCompare(b)));
  for (const [, addrs] of all) {
    const v4 = (addrs ?? []).find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new HarnessError('the container has no IPv4 address outside loopback (is it attached to a network?)');
}

/**
 * @param {string} name
 * @returns {string[]}
 */
function argvFromEnv(name) {
  const text = process.env[name];
  if (!text) throw new HarnessError(`${name} must be set (a JSON array: the command to run)`);
  let argv;
  try {
    argv = JSON.parse(text);
  } catch (err) {
    throw new HarnessError(`${name} is not JSON: ${describeError(err)}`, { cause: err });
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new HarnessError(`${name} must be a non-empty JSON array of strings`);
  }
  return argv;
}

/**
 * @param {string} label
 * @param {string[]} argv
 * @param {Record<string, string>} env
 * @param {'pipe' | 'inherit'} stdout
 * @returns {Promise<ChildProcess>} once the process runs (a command that cannot start ends the container, exit 127)
 */
function launch(label, argv, env, stdout) {
  const [file, ...args] = argv;
  const child = spawn(/** @type {string} */ (file), args, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'inherit'], detached: true });
  children.push({ label, child });
  const spawned = new Promise((resolve) => {
    child.once('spawn', () => resolve(child));
    child.once('error', (err) => {
      process.stderr.write(`${PROGRAM}: cannot start the ${label} (${argv.join(' ')}): ${describeError(err)}\n`);
      exitWith(127);
    });
  });
  child.once('exit', (code, signal) => {
    // What it forked goes with it.
    killGroup(child, 'SIGKILL');
    if (stopping) {
      if (children.every((c) => c.child.exitCode !== null || c.child.signalCode !== null)) process.exit(0);
      return;
    }
    process.stderr.write(`${PROGRAM}: the ${label} exited (${signal ? `signal ${signal}` : `exit code ${code}`}); stopping the container\n`);
    exitWith(code && code > 0 ? code : 1);
  });
  return /** @type {Promise<ChildProcess>} */ (spawned);
}

/**
 * @param {ChildProcess} echo
 * @param {string} workloadKey
 * @param {number[]} declared
 * @returns {Promise<Record<string, number>>} workload port (as a string) → app port
 */
function echoPorts(echo, workloadKey, declared) {
  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (echo.stdout) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new HarnessError(`the echo application printed no ready line within ${ECHO_READY_MS} ms`)), ECHO_READY_MS);
    lines.once('line', (line) => {
      clearTimeout(timer);
      // Keep draining its stdout into ours so it never blocks on a full pipe.
      lines.on('line', (l) => process.stdout.write(`echo-app: ${l}\n`));
      try {
        const msg = JSON.parse(line);
        /** @type {Record<string, number>} */
        const ports = {};
        for (const p of declared) {
          const n = msg?.ports?.[`${workloadKey}|${p}`];
          if (!msg?.ready || !Number.isInteger(n)) throw new Error(`no port for ${workloadKey}|${p}`);
          ports[String(p)] = n;
        }
        resolve(ports);
      } catch (err) {
        reject(new HarnessError(`the echo application printed an unexpected line (${describeError(err)}): ${line.slice(0, 200)}`));
      }
    });
  });
}

/**
 * @param {string} file
 * @param {string} content
 */
function writeAtomic(file, content) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

/** @param {NodeJS.Signals} signal */
function stop(signal) {
  if (stopping) return;
  stopping = true;
  const running = children.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
  if (running.length === 0) process.exit(0);
  for (const c of running) c.child.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
  setTimeout(() => {
    for (const c of running) killGroup(c.child, 'SIGKILL');
    process.exit(0);
  }, STOP_GRACE_MS).unref();
}

/** @param {number} code */
function exitWith(code) {
  stopping = true;
  // The last line names the exit code: the harness reads it even after the container is gone.
  process.stderr.write(`${PROGRAM}: exit ${code}\n`);
  for (const c of children) killGroup(c.child, 'SIGKILL');
  process.exit(code);
}

/**
 * @param {ChildProcess} child leader of its own process group (spawned detached)
 * @param {NodeJS.Signals} signal
 */
function killGroup(child, signal) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

/** @param {unknown} err */
function fail(err) {
  process.stderr.write(`${PROGRAM}: ${err instanceof HarnessError ? err.message : `internal error: ${err instanceof Error ? err.stack : String(err)}`}\n`);
  exitWith(2);
}
