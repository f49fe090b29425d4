import type {
  Backend,
  ChaosCapability,
  Environment,
  EnvironmentChaos,
  EnvironmentOptions,
  PeerAuthenticationManifest,
  WorkloadConfig,
  WorkloadKey,
  WorkloadTarget,
  WorkloadTls,
  Workload,
} from '../../model/index.js';
import { readFile } from 'node:fs/promises';
import { BackendError } from '../../util/errors.js';
import { escapeControls } from '../../util/terminal-text.js';
import { describeExit, firstLine, running, signalLeader, spawnGroup, stopGroup, tail, type GroupProc } from '../process-group.js';
import { workloadConfig } from '../workload-config.js';
import { bindProblem, sleep, tcpAccepts } from '../../util/net.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { readReceiptsFile } from '../app-receipts.js';

export interface LocalBackendOptions {
  /** First two octets of the loopback /16 the run's workloads get addresses in, e.g. `127.77`. Random when absent. */
  readonly subnet?: string;
}

/** A process of the environment, leader of its own process group (its whole tree stops with it). */
type Proc = GroupProc;

/** One data-plane process slot: the process serving `members`, replaced on every chaos restart. */
interface DataPlaneSlot {
  readonly label: string;
  readonly members: readonly Workload[];
  readonly env: Record<string, string>;
  /** MESHCONFORM_TMPDIR of its data plane: kept across chaos restarts, removed with the environment. */
  readonly tmpDir: string;
  proc: Proc;
  generation: number;
}

/** What the local backend can do to a running environment; only with one workload per data-plane process. */
const LOCAL_CHAOS: readonly ChaosCapability[] = ['data-plane-process', 'workload-tls', 'distribution-pause', 'clock-skew'];

/** First application port: above Linux's default ephemeral range (32768–60999). */
const APP_PORT_BASE = 61000;

/** Loopback backend: every workload gets its own 127.x.y.z address, so declared ports are used as they are. */
export function createLocalBackend(options: LocalBackendOptions = {}): Backend {
  const subnet = options.subnet ?? `127.${64 + Math.floor(Math.random() * 190)}`;
  if (!/^127\.(\d{1,3})$/.test(subnet) || Number(subnet.split('.')[1]) > 255) {
    throw new BackendError(`invalid local subnet "${subnet}": expected the first two octets of a loopback /16, like 127.77`);
  }
  // Environments that run at the same time must not share addresses: each takes fresh ones.
  let next = 0;
  const allocate = (count: number): number => {
    if (next + count > ADDRESSES_PER_SUBNET) throw new BackendError(`local backend: more than ${ADDRESSES_PER_SUBNET} workloads in one run on ${subnet}.0.0/16`);
    const first = next;
    next += count;
    return first;
  };
  return {
    name: 'local',
    details: { localSubnet: subnet },
    chaosCapabilities: LOCAL_CHAOS,
    start: (o) => startLocal(o, subnet, allocate(o.scenario.workloads.length)),
  };
}

const ADDRESSES_PER_SUBNET = 254 * 254;

function addressFor(subnet: string, index: number): string {
  return `${subnet}.${Math.floor(index / 254) + 1}.${(index % 254) + 1}`;
}

async function startLocal(o: EnvironmentOptions, subnet: string, firstIndex: number): Promise<Environment> {
  const where = `scenario ${o.scenario.name}`;
  const workloads = o.scenario.workloads;
  const targets = new Map<WorkloadKey, WorkloadTarget>();
  workloads.forEach((w, i) => {
    const address = addressFor(subnet, firstIndex + i);
    targets.set(key(w), { address, ports: new Map(w.ports.map((p) => [p.port, p.port])) });
  });

  const procs: Proc[] = [];
  const slots: DataPlaneSlot[] = [];
  let dir: PrivateDir | undefined;
  let receiptsFile: string | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  const configPaths: string[] = [];
  const configs: WorkloadConfig[] = [];

  // One stop, however many callers (the scenario's teardown, a signal handler): each waits for all of it.
  const stop = () => {
    stopped = true;
    return (stopping ??= (async () => {
      await Promise.all(procs.map((p) => stopGroup(p)));
      await dir?.remove();
    })());
  };

  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new BackendError(`${where}: start interrupted`));
    if (o.signal?.aborted) fail();
    o.signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {});
  const checkAbort = () => {
    if (o.signal?.aborted) throw new BackendError(`${where}: start interrupted`);
  };

  try {
    // A port held by another process would answer our readiness check: refuse to start instead.
    for (const w of workloads) {
      const t = targets.get(key(w))!;
      for (const p of w.ports) {
        const problem = await bindProblem(t.address, p.port);
        if (problem) {
          throw new BackendError(
            `${where}: workload ${key(w)} port ${p.port}: cannot use ${t.address}:${p.port} (${problem === 'EADDRINUSE' ? 'address already in use' : problem})`,
          );
        }
      }
    }

    checkAbort();
    dir = await createPrivateDir('meshconform-local-');
    firstCa(o);
    const appCert = await dir.write('app-cert.pem', o.appTls.certPem, 0o644);
    const appKey = await dir.write('app-key.pem', o.appTls.keyPem);

    // The echo application listens on the workload's own address, on ports above the kernel's ephemeral range
    // that the workload does not declare; fixed in advance so the echo app and the data planes start together.
    const appPorts = new Map<string, number>();
    for (const w of workloads) {
      const declared = new Set(w.ports.map((p) => p.port));
      let candidate = APP_PORT_BASE;
      for (const p of w.ports) {
        while (declared.has(candidate)) candidate++;
        appPorts.set(`${key(w)}|${p.port}`, candidate++);
      }
    }
    const listeners = workloads.flatMap((w) =>
      w.ports.map((p) => ({ workload: key(w), port: p.port, address: targets.get(key(w))!.address, appPort: appPorts.get(`${key(w)}|${p.port}`)! })),
    );
    // The echo app's receipts (the probe ids it received) go to the harness's private folder.
    receiptsFile = `${dir.path}/echo-receipts.jsonl`;
    const echoConfig = await dir.write('echo.json', JSON.stringify({ listeners, tls: { certFile: appCert, keyFile: appKey }, receiptsFile }));
    const echoLine = firstLine();
    const echo = spawnGroup('echo application', o.echoArgv, { MESHCONFORM_ECHO_CONFIG: echoConfig }, { onStdout: echoLine.onStdout });
    procs.push(echo);
    const echoReady = readEchoPorts(echo, echoLine.line, o.readyTimeoutMs, where);
    echoReady.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

    for (const [i, w] of workloads.entries()) {
      const id = o.identities.get(key(w));
      if (!id) throw new BackendError(`${where}: no identity issued for workload ${key(w)}`);
      const t = targets.get(key(w))!;
      const config = workloadConfig(o, w, {
        address: t.address,
        appAddress: t.address,
        appPorts: Object.fromEntries(w.ports.map((p) => [String(p.port), appPorts.get(`${key(w)}|${p.port}`)!])),
        // A trust bundle per workload: a staged CA rotation changes one workload's bundle at a time.
        tls: {
          certFile: await dir.write(`workload-${i}-cert.pem`, id.certPem, 0o644),
          keyFile: await dir.write(`workload-${i}-key.pem`, id.keyPem),
          caFile: await dir.write(`workload-${i}-ca.pem`, id.caPem, 0o644),
        },
      });
      configs.push(config);
      configPaths.push(await dir.write(`workload-${i}.json`, JSON.stringify(config, null, 2)));
    }

    // Start the data plane through the contract: one process per workload (or per group, when it serves several).
    const per = Math.max(1, o.dataPlane.workloadsPerProcess);
    const groups: { label: string; env: Record<string, string>; members: Workload[]; tmpDir: string }[] = [];
    for (let i = 0; i < workloads.length; i += per) {
      const members = workloads.slice(i, i + per);
      const paths = configPaths.slice(i, i + per);
      // The data plane's own temporary folder: the harness removes it, even after a SIGKILL.
      const tmpDir = await dir.mkdir(`dp${groups.length}-tmp`);
      groups.push(
        per === 1
          ? { label: `data plane for ${key(members[0]!)}`, env: { MESHCONFORM_WORKLOAD_CONFIG: paths[0]!, MESHCONFORM_TMPDIR: tmpDir }, members, tmpDir }
          : {
              label: `data plane for ${members.length} workloads from ${key(members[0]!)}`,
              env: { MESHCONFORM_WORKLOAD_CONFIGS: paths.join(':'), MESHCONFORM_TMPDIR: tmpDir },
              members,
              tmpDir,
            },
      );
    }
    checkAbort();
    const started = groups.map((g) => ({ g, proc: spawnGroup(g.label, o.dataPlane.argv, { ...o.dataPlane.env, ...g.env }) }));
    procs.push(...started.map((s) => s.proc));
    for (const { g, proc } of started) slots.push({ label: g.label, members: g.members, env: g.env, tmpDir: g.tmpDir, proc, generation: 1 });
    await Promise.race([aborted, Promise.all([echoReady, ...started.map(({ g, proc }) => waitReady(proc, g.members, targets, o.readyTimeoutMs, where))])]);
    checkAbort();
  } catch (err) {
    await stop();
    throw err;
  }

  const paused = new Set<WorkloadKey>();
  const indexOf = (w: WorkloadKey): number => {
    const i = workloads.findIndex((x) => key(x) === w);
    if (i < 0) throw new BackendError(`${where}: no workload ${w}`);
    return i;
  };
  const slotOf = (w: WorkloadKey): DataPlaneSlot => {
    const slot = slots.find((x) => x.members.some((m) => key(m) === w));
    if (!slot) throw new BackendError(`${where}: no data plane serves ${w}`);
    return slot;
  };

  const chaos: EnvironmentChaos = {
    capabilities: LOCAL_CHAOS,
    dataPlane(w) {
      const slot = slotOf(w);
      return { pid: slot.proc.pid, running: running(slot.proc), generation: slot.generation };
    },
    async killDataPlane(w, signal) {
      const slot = slotOf(w);
      const p = slot.proc;
      if (!running(p)) throw new BackendError(`${where}: the data plane of ${w} is not running`);
      // Like a killed pod, its whole process tree goes (a launcher's proxy child, too).
      await stopGroup(p, signal === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM');
    },
    async startDataPlane(w, options = {}) {
      const slot = slotOf(w);
      if (running(slot.proc)) throw new BackendError(`${where}: the data plane of ${w} is still running`);
      if (stopped) throw new BackendError(`${where}: environment is stopped`);
      const env: Record<string, string> = { ...o.dataPlane.env, ...slot.env };
      if (options.clockOffsetMs !== undefined && options.clockOffsetMs !== 0) env['MESHCONFORM_CLOCK_OFFSET_MS'] = String(Math.round(options.clockOffsetMs));
      const proc = spawnGroup(slot.label, o.dataPlane.argv, env);
      const i = procs.indexOf(slot.proc);
      if (i >= 0) procs.splice(i, 1);
      procs.push(proc);
      slot.proc = proc;
      slot.generation++;
      await waitReady(proc, slot.members, targets, o.readyTimeoutMs, where);
    },
    async installTls(w, tls: WorkloadTls) {
      if (!dir) throw new BackendError(`${where}: environment is not running`);
      const i = indexOf(w);
      await dir.write(`workload-${i}-cert.pem`, tls.certPem, 0o644);
      await dir.write(`workload-${i}-key.pem`, tls.keyPem);
      await dir.write(`workload-${i}-ca.pem`, tls.caPem, 0o644);
      signalLeader(slotOf(w).proc, 'SIGHUP');
    },
    pauseDistribution(w, isPaused) {
      indexOf(w);
      if (isPaused) paused.add(w);
      else paused.delete(w);
    },
    async deliveredPolicies(w) {
      if (!dir) throw new BackendError(`${where}: environment is not running`);
      const text = await readFile(`${dir.path}/workload-${indexOf(w)}.json`, 'utf8');
      return (JSON.parse(text) as WorkloadConfig).policies;
    },
  };

  return {
    targets,
    async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
      if (!dir) throw new BackendError(`${where}: environment is not running`);
      const delivered = new Set<WorkloadKey>();
      for (const [i, c] of configs.entries()) {
        const w = key(workloads[i]!);
        if (paused.has(w)) continue;
        c.policies = policies.map((p) => structuredClone(p));
        await dir.write(`workload-${i}.json`, JSON.stringify(c, null, 2));
        delivered.add(w);
      }
      for (const slot of slots) {
        if (slot.members.some((m) => delivered.has(key(m)))) signalLeader(slot.proc, 'SIGHUP');
      }
    },
    health() {
      return procs.filter((p) => p.exit && !p.expectedExit).map((p) => `${p.label} exited (${describeExit(p)})${tail(p)}`);
    },
    receipts: () => (receiptsFile ? readReceiptsFile(receiptsFile) : Promise.resolve([])),
    ...(Math.max(1, o.dataPlane.workloadsPerProcess) === 1 ? { chaos } : {}),
    stop,
  };
}

function key(w: Workload): WorkloadKey {
  return `${w.namespace}/${w.name}`;
}

function firstCa(o: EnvironmentOptions): string {
  const first = o.identities.values().next();
  if (first.done) throw new BackendError(`scenario ${o.scenario.name}: no workloads`);
  return first.value.caPem;
}

async function readEchoPorts(echo: Proc, line: Promise<string>, timeoutMs: number, where: string): Promise<Map<string, number>> {
  const ready = line.then((text) => {
    try {
      const msg = JSON.parse(text) as { ready?: boolean; ports?: Record<string, number> };
      if (!msg.ready || !msg.ports) throw new Error('no ready message');
      return new Map(Object.entries(msg.ports));
    } catch {
      throw new BackendError(`${where}: echo application printed an unexpected line: ${escapeControls(text.slice(0, 200))}`);
    }
  });
  return Promise.race([ready, exited(echo, where), deadline(timeoutMs, `${where}: echo application not ready after ${timeoutMs} ms`)]);
}

async function waitReady(proc: Proc, members: readonly Workload[], targets: ReadonlyMap<WorkloadKey, WorkloadTarget>, timeoutMs: number, where: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = members.flatMap((w) => w.ports.map((p) => ({ w, port: p.port, address: targets.get(key(w))!.address })));
  let delay = 5;
  while (pending.length > 0) {
    if (proc.exit) return exited(proc, where);
    const checks = await Promise.all(pending.map((p) => tcpAccepts(p.address, p.port, 250)));
    for (let i = checks.length - 1; i >= 0; i--) if (checks[i]) pending.splice(i, 1);
    if (pending.length === 0) break;
    if (Date.now() > until) {
      const missing = pending.map((p) => `${key(p.w)} port ${p.port} (${p.address}:${p.port})`).join(', ');
      throw new BackendError(`${where}: ${proc.label} not ready after ${timeoutMs} ms: nothing accepts TCP on ${missing}${tail(proc)}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  // A process that exits right after binding is not a data plane we can probe.
  await sleep(0);
  if (proc.exit) return exited(proc, where);
}

async function exited(proc: Proc, where: string): Promise<never> {
  await proc.exited;
  throw startFailure(proc, where);
}

function deadline(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new BackendError(message)), ms).unref());
}

function startFailure(proc: Proc, where: string): BackendError {
  return new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
}
