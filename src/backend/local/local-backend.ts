import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import type {
  Backend,
  Environment,
  EnvironmentOptions,
  PeerAuthenticationManifest,
  WorkloadConfig,
  WorkloadKey,
  WorkloadTarget,
  Workload,
} from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { workloadConfig } from '../workload-config.js';
import { bindProblem, sleep, tcpAccepts } from '../../util/net.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';

export interface LocalBackendOptions {
  /** First two octets of the loopback /16 the run's workloads get addresses in, e.g. `127.77`. Random when absent. */
  readonly subnet?: string;
}

type Child = ResultPromise<{ stdio: ['ignore', 'pipe', 'pipe']; reject: false }>;

interface Proc {
  readonly label: string;
  readonly child: Child;
  readonly stderr: string[];
  exit?: { code: number | undefined; signal: string | undefined };
}

const STOP_GRACE_MS = 5000;
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
  return { name: 'local', details: { localSubnet: subnet }, start: (o) => startLocal(o, subnet, allocate(o.scenario.workloads.length)) };
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
  let dir: PrivateDir | undefined;
  let stopped = false;
  const configPaths: string[] = [];
  const configs: WorkloadConfig[] = [];

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(procs.map(stopProc));
    await dir?.remove();
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
    const caFile = await dir.write('ca.pem', firstCa(o), 0o644);
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
    const echoConfig = await dir.write('echo.json', JSON.stringify({ listeners, tls: { certFile: appCert, keyFile: appKey } }));
    const echo = spawn('echo application', o.echoArgv, { MESHCONFORM_ECHO_CONFIG: echoConfig });
    procs.push(echo);
    const echoReady = readEchoPorts(echo, o.readyTimeoutMs, where);
    echoReady.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

    for (const [i, w] of workloads.entries()) {
      const id = o.identities.get(key(w));
      if (!id) throw new BackendError(`${where}: no identity issued for workload ${key(w)}`);
      const t = targets.get(key(w))!;
      const config = workloadConfig(o, w, {
        address: t.address,
        appAddress: t.address,
        appPorts: Object.fromEntries(w.ports.map((p) => [String(p.port), appPorts.get(`${key(w)}|${p.port}`)!])),
        tls: {
          certFile: await dir.write(`workload-${i}-cert.pem`, id.certPem, 0o644),
          keyFile: await dir.write(`workload-${i}-key.pem`, id.keyPem),
          caFile,
        },
      });
      configs.push(config);
      configPaths.push(await dir.write(`workload-${i}.json`, JSON.stringify(config, null, 2)));
    }

    // Start the data plane through the contract: one process per workload (or per group, when it serves several).
    const per = Math.max(1, o.dataPlane.workloadsPerProcess);
    const groups: { label: string; env: Record<string, string>; members: Workload[] }[] = [];
    for (let i = 0; i < workloads.length; i += per) {
      const members = workloads.slice(i, i + per);
      const paths = configPaths.slice(i, i + per);
      groups.push(
        per === 1
          ? { label: `data plane for ${key(members[0]!)}`, env: { MESHCONFORM_WORKLOAD_CONFIG: paths[0]! }, members }
          : { label: `data plane for ${members.length} workloads from ${key(members[0]!)}`, env: { MESHCONFORM_WORKLOAD_CONFIGS: paths.join(':') }, members },
      );
    }
    checkAbort();
    const started = groups.map((g) => ({ g, proc: spawn(g.label, o.dataPlane.argv, { ...o.dataPlane.env, ...g.env }) }));
    procs.push(...started.map((s) => s.proc));
    await Promise.race([aborted, Promise.all([echoReady, ...started.map(({ g, proc }) => waitReady(proc, g.members, targets, o.readyTimeoutMs, where))])]);
    checkAbort();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    targets,
    async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
      if (!dir) throw new BackendError(`${where}: environment is not running`);
      for (const [i, c] of configs.entries()) {
        c.policies = policies.map((p) => structuredClone(p));
        await dir.write(`workload-${i}.json`, JSON.stringify(c, null, 2));
      }
      for (const p of procs.slice(1)) if (!p.exit) p.child.kill('SIGHUP');
    },
    health() {
      return procs.filter((p) => p.exit).map((p) => `${p.label} exited (${describeExit(p)})${tail(p)}`);
    },
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

function spawn(label: string, argv: readonly string[], env: Record<string, string>): Proc {
  const [file, ...args] = argv;
  if (!file) throw new BackendError(`${label}: empty command`);
  const child = execa(file, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    reject: false,
    cleanup: true,
    forceKillAfterDelay: STOP_GRACE_MS,
  }) as Child;
  const proc: Proc = { label, child, stderr: [] };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    proc.stderr.push(s);
    if (proc.stderr.length > 50) proc.stderr.shift();
  });
  void child.then((r) => {
    proc.exit = { code: r.exitCode, signal: r.signal };
    if (r.failed && r.code === 'ENOENT') proc.stderr.push(`command not found: ${file}`);
    else if (r.failed && !r.exitCode && !r.signal && r.originalMessage) proc.stderr.push(r.originalMessage);
  });
  return proc;
}

async function readEchoPorts(echo: Proc, timeoutMs: number, where: string): Promise<Map<string, number>> {
  const lines = createInterface({ input: echo.child.stdout });
  const ready = new Promise<Map<string, number>>((resolve, reject) => {
    lines.once('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; ports?: Record<string, number> };
        if (!msg.ready || !msg.ports) throw new Error('no ready message');
        resolve(new Map(Object.entries(msg.ports)));
      } catch {
        reject(new BackendError(`${where}: echo application printed an unexpected line: ${line.slice(0, 200)}`));
      }
    });
  });
  try {
    return await Promise.race([ready, exited(echo, where), deadline(timeoutMs, `${where}: echo application not ready after ${timeoutMs} ms`)]);
  } finally {
    lines.close();
  }
}

async function waitReady(
  proc: Proc,
  members: readonly Workload[],
  targets: ReadonlyMap<WorkloadKey, WorkloadTarget>,
  timeoutMs: number,
  where: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = members.flatMap((w) => w.ports.map((p) => ({ w, port: p.port, address: targets.get(key(w))!.address })));
  let delay = 5;
  while (pending.length > 0) {
    if (proc.exit) throw startFailure(proc, where);
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
  if (proc.exit) throw startFailure(proc, where);
}

function exited(proc: Proc, where: string): Promise<never> {
  return proc.child.then(() => {
    proc.exit ??= { code: undefined, signal: undefined };
    throw startFailure(proc, where);
  });
}

function deadline(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new BackendError(message)), ms).unref());
}

function startFailure(proc: Proc, where: string): BackendError {
  return new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
}

function describeExit(p: Proc): string {
  if (!p.exit) return 'running';
  if (p.exit.signal) return `signal ${p.exit.signal}`;
  return p.exit.code === undefined ? 'could not start' : `exit code ${p.exit.code}`;
}

function tail(p: Proc): string {
  const text = p.stderr.join('').trim().split('\n').slice(-3).join(' | ');
  return text ? `: ${text}` : '';
}

async function stopProc(p: Proc): Promise<void> {
  if (!p.exit) p.child.kill('SIGTERM');
  await p.child;
}
