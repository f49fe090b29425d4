import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type {
  Backend,
  ChaosCapability,
  DataPlaneProcessState,
  Environment,
  EnvironmentChaos,
  EnvironmentOptions,
  PeerAuthenticationManifest,
  Workload,
  WorkloadConfig,
  WorkloadKey,
  WorkloadTarget,
  WorkloadTls,
} from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { escapeControls } from '../../util/terminal-text.js';
import { sleep, tcpAccepts } from '../../util/net.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { readReceiptsFile } from '../app-receipts.js';
import { firstLine } from '../process-group.js';
import { workloadConfig } from '../workload-config.js';
import { ip, ipBatch, iptablesIn } from './ip.js';
import { envNames, type EnvNames } from './names.js';
import { describeExit, running, spawnInNetns, stopProc, tail, type NsProc } from './ns-process.js';
import { conflicts, freeSubnets, hostPrefixes } from './pick-subnet.js';
import { hasIptables, netnsHostProblem } from './preflight.js';
import { removeNetns, removeRunNetns } from './reap.js';

export interface NetnsBackendOptions {
  /** Random source for the /24 pick (default Math.random). */
  readonly random?: () => number;
}

/** The netns backend, plus the run-wide sweep the CLI registers for SIGINT/SIGTERM. */
export interface NetnsBackend extends Backend {
  /** From now on no environment of `runId` starts. Synchronous, for signal handlers. */
  closeRun(runId: string): void;
  /** closeRun, then removes every namespace and host interface of `runId`, after waiting for starts in flight. Idempotent. */
  removeRun(runId: string): Promise<void>;
}

/** Packet loss joins these when iptables is on PATH. */
const NETNS_CHAOS: readonly ChaosCapability[] = ['data-plane-process', 'workload-tls', 'distribution-pause', 'clock-skew'];
/** .1 is the host's end of the uplink; workloads take .2–.254 of the environment's /24. */
const MAX_WORKLOADS = 253;
/** The echo application is reachable only inside the workload's namespace: nothing bypasses the data plane. */
const APP_ADDRESS = '127.0.0.1';
/** First application port: above Linux's default ephemeral range (32768–60999). */
const APP_PORT_BASE = 61000;
const SUBNET_ATTEMPTS = 8;
/** The workload's interface inside its namespace. */
const WORKLOAD_IF = 'eth0';

interface Slot {
  readonly index: number;
  readonly workload: Workload;
  readonly key: WorkloadKey;
  readonly netns: string;
  readonly address: string;
  readonly config: WorkloadConfig;
  readonly configFile: string;
  readonly echoConfigFile: string;
  /** MESHCONFORM_TMPDIR of its data plane, inside the environment's private folder. */
  readonly tmpDir: string;
  echo?: NsProc;
  dataPlane?: NsProc;
  generation: number;
  /** A data plane is starting: signals wait until it is ready (an early SIGHUP would kill a process without its handler yet). */
  starting: boolean;
  hupPending: boolean;
  paused: boolean;
  readonly lossRules: Set<() => Promise<void>>;
}

/**
 * Namespaces and host interfaces of environments not yet stopped: a forced exit (a second Ctrl-C) still deletes
 * them, synchronously, on the way out; their processes get SIGTERM from execa's own exit hook, and a namespace
 * without a name is freed with its veths once they are gone.
 */
/** /24s of this process's environments: parallel starts must not pick the same one (other processes: `claimSubnet`). */
const claimed = new Set<string>();

const unstopped = new Map<string, { namespaces: string[]; hostIf: () => string | undefined }>();
let exitHook = false;

function removeOnExit(envId: string, entry: { namespaces: string[]; hostIf: () => string | undefined }): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      const lines = [...unstopped.values()].flatMap((e) => [...(e.hostIf() ? [`link del ${e.hostIf()}`] : []), ...e.namespaces.map((n) => `netns del ${n}`)]);
      if (lines.length === 0) return;
      try {
        execFileSync('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
      } catch {
        // `meshconform reap` removes what is left
      }
    });
  }
  unstopped.set(envId, entry);
  return () => unstopped.delete(envId);
}

interface StartContext {
  readonly random: () => number;
  readonly claimed: Set<string>;
  readonly iptables: boolean;
  readonly capabilities: readonly ChaosCapability[];
  readonly closed: () => boolean;
}

/**
 * One Linux network namespace per workload, each with a veth to a bridge that lives in its own ("hub") namespace,
 * and a veth from the host to the hub so probes from the host reach the workloads' addresses (a free /24 of
 * 198.18.0.0/15 per environment). The data plane and the echo application run inside each workload's namespace
 * through the unchanged data-plane contract. Names carry `meshconform-<run-id>` and the owner PID for `reap`.
 */
export function createNetnsBackend(options: NetnsBackendOptions = {}): NetnsBackend {
  const random = options.random ?? Math.random;
  const iptables = hasIptables();
  const capabilities: readonly ChaosCapability[] = [...NETNS_CHAOS, ...(iptables ? (['packet-loss'] as const) : [])];
  const closing = new Set<string>();
  const inflight = new Map<string, Set<Promise<unknown>>>();
  let host: Promise<string | undefined> | undefined;

  const track = <T>(runId: string, p: Promise<T>): Promise<T> => {
    const set = inflight.get(runId) ?? new Set();
    inflight.set(runId, set);
    set.add(p);
    return p.finally(() => set.delete(p));
  };

  return {
    name: 'netns',
    chaosCapabilities: capabilities,
    start(o) {
      if (closing.has(o.runId)) return Promise.reject(new BackendError(`run ${o.runId} is being cleaned up; no new environment starts`));
      return track(
        o.runId,
        (async () => {
          host ??= netnsHostProblem();
          const problem = await host;
          if (problem) throw new BackendError(problem);
          return startEnvironment(o, { random, claimed, iptables, capabilities, closed: () => closing.has(o.runId) });
        })(),
      );
    },
    closeRun(runId) {
      closing.add(runId);
    },
    async removeRun(runId) {
      closing.add(runId);
      if (!host || (await host)) return; // nothing was ever created
      await removeRunNetns(runId);
      // A start in flight may create something after the sweep: wait for it (bounded), sweep again.
      const pending = [...(inflight.get(runId) ?? [])];
      if (pending.length > 0) {
        await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 30_000).unref())]);
        await removeRunNetns(runId);
      }
    },
  };
}

async function startEnvironment(o: EnvironmentOptions, ctx: StartContext): Promise<Environment> {
  const where = `scenario ${o.scenario.name}`;
  const workloads = o.scenario.workloads;
  if (o.dataPlane.workloadsPerProcess > 1) {
    throw new BackendError(`${where}: --workloads-per-process ${o.dataPlane.workloadsPerProcess} is not supported on the netns backend (one data plane per workload namespace)`);
  }
  if (workloads.length === 0) throw new BackendError(`${where}: no workloads`);
  if (workloads.length > MAX_WORKLOADS) throw new BackendError(`${where}: ${workloads.length} workloads; the netns backend runs at most ${MAX_WORKLOADS} per scenario (one /24)`);
  for (const w of workloads) if (!o.identities.has(key(w))) throw new BackendError(`${where}: no identity issued for workload ${key(w)}`);

  // The host interface's name has only the environment id: unique among this process's environments.
  let envId: string;
  do envId = randomBytes(3).toString('hex');
  while (unstopped.has(envId));
  const names = envNames(o.runId, envId);
  // Recorded before each creation, so a failure or interrupt half-way removes whatever exists.
  const created = { namespaces: [] as string[], hostIf: false };
  let subnet: string | undefined;
  let dir: PrivateDir | undefined;
  const slots: Slot[] = [];
  let stopping: Promise<void> | undefined;
  const forget = removeOnExit(envId, { namespaces: created.namespaces, hostIf: () => (created.hostIf ? names.hostIf : undefined) });

  const stop = () =>
    (stopping ??= (async () => {
      const problems: string[] = [];
      await Promise.all(
        slots
          .flatMap((s) => [s.echo, s.dataPlane])
          .filter((p): p is NsProc => p !== undefined)
          .map((p) => stopProc(p)),
      );
      // Faults end explicitly; deleting the namespace would remove the rules anyway.
      for (const s of slots) for (const remove of s.lossRules) await remove().catch(() => undefined);
      try {
        await removeNetns(created.namespaces, created.hostIf ? [names.hostIf] : []);
      } catch (err) {
        problems.push((err as Error).message);
      }
      await dir?.remove();
      if (subnet) ctx.claimed.delete(subnet);
      if (problems.length === 0) forget();
      if (problems.length > 0) throw new BackendError(`${where}: ${problems.join('; ')}`);
    })());

  const interrupted = () => new BackendError(`${where}: start interrupted`);
  const aborted = new Promise<never>((_, reject) => {
    if (o.signal?.aborted) reject(interrupted());
    o.signal?.addEventListener('abort', () => reject(interrupted()), { once: true });
  });
  aborted.catch(() => {});
  // Short `ip` steps are never abandoned half-way (their result must be known to be removed); checks go between them.
  const checkAbort = () => {
    if (o.signal?.aborted) throw interrupted();
    if (ctx.closed()) throw new BackendError(`${where}: run ${o.runId} is being cleaned up`);
  };

  try {
    checkAbort();
    const workloadNs = workloads.map((_, i) => names.workload(i));
    created.namespaces.push(names.hub, ...workloadNs);
    await ipBatch(created.namespaces.map((n) => `netns add ${n}`));
    await ipBatch(
      [
        'link add br0 type bridge',
        'link set br0 up',
        ...workloadNs.flatMap((n, i) => [`link add vw${i} type veth peer name ${WORKLOAD_IF} netns ${n}`, `link set vw${i} master br0`, `link set vw${i} up`]),
      ],
      names.hub,
    );
    checkAbort();
    // Marked ours only once created: a name another process holds ("File exists") must never be deleted by us.
    await ip(['link', 'add', names.hostIf, 'type', 'veth', 'peer', 'name', 'up0', 'netns', names.hub]);
    created.hostIf = true;
    await ipBatch([`link set ${names.hostIf} alias ${names.hub}`, `link set ${names.hostIf} up`]);
    await ipBatch(['link set up0 master br0', 'link set up0 up'], names.hub);
    checkAbort();
    subnet = await claimSubnet(names, ctx, where);
    const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
    await Promise.all(workloadNs.map((n, i) => ipBatch(['link set lo up', `addr add ${prefix}.${i + 2}/24 dev ${WORKLOAD_IF}`, `link set ${WORKLOAD_IF} up`], n)));
    checkAbort();

    dir = await createPrivateDir('meshconform-netns-');
    const appCert = await dir.write('app-cert.pem', o.appTls.certPem, 0o644);
    const appKey = await dir.write('app-key.pem', o.appTls.keyPem);
    for (const [i, w] of workloads.entries()) {
      const id = o.identities.get(key(w))!;
      // Ports of the echo app: each namespace has its own port space; above the ephemeral range, never a declared port.
      const declared = new Set(w.ports.map((p) => p.port));
      const appPorts: Record<string, number> = {};
      let candidate = APP_PORT_BASE;
      for (const p of w.ports) {
        while (declared.has(candidate)) candidate++;
        appPorts[String(p.port)] = candidate++;
      }
      const address = `${prefix}.${i + 2}`;
      const config = workloadConfig(o, w, {
        address,
        appAddress: APP_ADDRESS,
        appPorts,
        tls: {
          certFile: await dir.write(`w${i}-cert.pem`, id.certPem, 0o644),
          keyFile: await dir.write(`w${i}-key.pem`, id.keyPem),
          caFile: await dir.write(`w${i}-ca.pem`, id.caPem, 0o644),
        },
      });
      const configFile = await dir.write(`w${i}.json`, JSON.stringify(config, null, 2));
      const echoConfigFile = await dir.write(
        `w${i}-echo.json`,
        JSON.stringify({
          listeners: w.ports.map((p) => ({ workload: key(w), port: p.port, address: APP_ADDRESS, appPort: appPorts[String(p.port)] })),
          tls: { certFile: appCert, keyFile: appKey },
          // Receipts (the probe ids the app received) in the harness's folder: a namespace shares the host's files.
          receiptsFile: `${dir.path}/w${i}-receipts.jsonl`,
        }),
      );
      slots.push({
        index: i,
        workload: w,
        key: key(w),
        netns: workloadNs[i]!,
        address,
        config,
        configFile,
        echoConfigFile,
        tmpDir: await dir.mkdir(`w${i}-tmp`),
        generation: 0,
        starting: false,
        hupPending: false,
        paused: false,
        lossRules: new Set(),
      });
    }
    checkAbort();

    // Echo applications and data planes start together (their ports are fixed in advance).
    const echoes = slots.map((s) => startEcho(s, o, where));
    for (const e of echoes) e.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
    const planes = slots.map((s) => startDataPlane(s, o, undefined, where));
    for (const p of planes) p.catch(() => {});
    await Promise.race([aborted, Promise.all([...echoes, ...planes])]);
    checkAbort();
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  const targets = new Map<WorkloadKey, WorkloadTarget>(slots.map((s) => [s.key, { address: s.address, ports: new Map(s.workload.ports.map((p) => [p.port, p.port])) }]));
  const slotOf = (w: WorkloadKey): Slot => {
    const s = slots.find((x) => x.key === w);
    if (!s) throw new BackendError(`${where}: no workload ${w} in this environment`);
    return s;
  };
  const ensureLive = (what: string) => {
    if (stopping) throw new BackendError(`${where}: ${what}: the environment is stopped`);
  };
  const hup = (s: Slot) => {
    if (s.starting) s.hupPending = true;
    else if (running(s.dataPlane)) s.dataPlane.child.kill('SIGHUP');
  };

  const chaos: EnvironmentChaos = {
    capabilities: ctx.capabilities,
    dataPlane(w): DataPlaneProcessState {
      const s = slotOf(w);
      const up = running(s.dataPlane);
      return { pid: up ? s.dataPlane!.pid : undefined, running: up, generation: s.generation };
    },
    async killDataPlane(w, signal) {
      const s = slotOf(w);
      ensureLive(`kill the data plane of ${w}`);
      if (signal !== 'SIGKILL' && signal !== 'SIGTERM') throw new BackendError(`${where}: cannot send ${String(signal)} to the data plane of ${w}: SIGKILL or SIGTERM only`);
      if (!running(s.dataPlane)) throw new BackendError(`${where}: the data plane of ${w} is not running`);
      await stopProc(s.dataPlane, signal);
    },
    async startDataPlane(w, opts) {
      const s = slotOf(w);
      ensureLive(`start the data plane of ${w}`);
      checkOffset(opts?.clockOffsetMs, s, where);
      if (running(s.dataPlane)) throw new BackendError(`${where}: the data plane of ${w} is already running (pid ${s.dataPlane.pid})`);
      await startDataPlane(s, o, opts?.clockOffsetMs, where);
    },
    async installTls(w, t: WorkloadTls) {
      const s = slotOf(w);
      ensureLive(`install TLS material for ${w}`);
      // Each file is replaced atomically; the data plane reads them together on the SIGHUP that follows.
      await dir!.write(`w${s.index}-cert.pem`, t.certPem, 0o644);
      await dir!.write(`w${s.index}-key.pem`, t.keyPem);
      await dir!.write(`w${s.index}-ca.pem`, t.caPem, 0o644);
      hup(s);
    },
    pauseDistribution(w, paused) {
      slotOf(w).paused = paused;
    },
    async deliveredPolicies(w) {
      const s = slotOf(w);
      ensureLive(`read the config of ${w}`);
      // The file the data plane reads, not our copy of it: proves what was (or was not) delivered.
      try {
        return (JSON.parse(await readFile(s.configFile, 'utf8')) as WorkloadConfig).policies;
      } catch (err) {
        throw new BackendError(`${where}: cannot read the data-plane config of ${w} (${s.configFile}): ${(err as Error).message}`, { cause: err });
      }
    },
    async packetLoss(w, percent) {
      const s = slotOf(w);
      ensureLive(`packet loss for ${w}`);
      if (!ctx.iptables) throw new BackendError(`${where}: packet loss for ${w} needs iptables on PATH (apt-get install iptables)`);
      if (!Number.isFinite(percent) || percent <= 0 || percent > 100) throw new BackendError(`${where}: packet loss for ${w}: ${percent} % is not in (0, 100]`);
      // Only what arrives from the network: the data plane's own loopback leg to the echo app stays intact.
      const rule = [
        'INPUT',
        '-i',
        WORKLOAD_IF,
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        (percent / 100).toFixed(6),
        '-m',
        'comment',
        '--comment',
        `meshconform packet-loss ${percent}%`,
        '-j',
        'DROP',
      ];
      await iptablesIn(s.netns, ['-A', ...rule]);
      let removed = false;
      const remove = async () => {
        if (removed) return;
        removed = true;
        s.lossRules.delete(remove);
        await iptablesIn(s.netns, ['-D', ...rule]);
      };
      s.lossRules.add(remove);
      return async () => {
        if (removed || stopping) return;
        await remove();
      };
    },
    async droppedPackets(w) {
      const s = slotOf(w);
      ensureLive(`read the packet-loss counters of ${w}`);
      // The kernel's own count of packets the fault's DROP rules matched: proof the loss happened (a slow connect is not).
      const out = await iptablesIn(s.netns, ['-L', 'INPUT', '-v', '-x', '-n']);
      return out
        .split('\n')
        .filter((l) => l.includes('meshconform packet-loss') && /\sDROP\s/.test(l))
        .reduce((n, l) => n + (Number(l.trim().split(/\s+/)[0]) || 0), 0);
    },
  };

  return {
    targets,
    async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
      ensureLive('apply policies');
      for (const s of slots) {
        // A paused workload keeps what it had (fail-static is what the chaos fault checks).
        if (s.paused) continue;
        s.config.policies = policies.map((p) => structuredClone(p));
        await dir!.write(`w${s.index}.json`, JSON.stringify(s.config, null, 2));
        hup(s);
      }
    },
    health() {
      const problems: string[] = [];
      for (const s of slots) {
        for (const p of [s.echo, s.dataPlane]) if (p?.exit && !p.expectedExit) problems.push(`${p.label} exited (${describeExit(p)})${tail(p)}`);
      }
      return problems;
    },
    async receipts() {
      const d = dir;
      if (!d) return [];
      return (await Promise.all(slots.map((s) => readReceiptsFile(`${d.path}/w${s.index}-receipts.jsonl`)))).flat();
    },
    chaos,
    stop,
  };
}

/** Adds the host's address on a free /24 and keeps it only if no other interface took the same /24 meanwhile. */
async function claimSubnet(names: EnvNames, ctx: StartContext, where: string): Promise<string> {
  for (let attempt = 0; attempt < SUBNET_ATTEMPTS; attempt++) {
    const [base] = freeSubnets(await hostPrefixes(), ctx.claimed, ctx.random);
    if (base === undefined) throw new BackendError(`${where}: no free /24 left in 198.18.0.0/15 (every one is routed or addressed on this host); run meshconform reap`);
    ctx.claimed.add(base);
    const hostAddress = `${base.slice(0, base.lastIndexOf('.'))}.1/24`;
    await ip(['addr', 'add', hostAddress, 'dev', names.hostIf]);
    if (conflicts(await hostPrefixes(), base, names.hostIf).length === 0) return base;
    // Another process added the same /24 between our look and our add: give it up, try another.
    await ip(['addr', 'del', hostAddress, 'dev', names.hostIf]);
    ctx.claimed.delete(base);
  }
  throw new BackendError(`${where}: could not claim a free /24 of 198.18.0.0/15 after ${SUBNET_ATTEMPTS} attempts (other processes keep taking them)`);
}

async function startEcho(s: Slot, o: EnvironmentOptions, where: string): Promise<void> {
  const ready = firstLine();
  const proc = spawnInNetns(s.netns, `echo application of ${s.key}`, o.echoArgv, { MESHCONFORM_ECHO_CONFIG: s.echoConfigFile }, { stdout: ready.onStdout });
  s.echo = proc;
  const exited = proc.exited.then(() => {
    throw new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
  });
  const line = await Promise.race([ready.line, exited, deadline(o.readyTimeoutMs, () => `${where}: ${proc.label} not ready after ${o.readyTimeoutMs} ms${tail(proc)}`)]);
  let msg: { ready?: boolean; ports?: Record<string, number> };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    msg = {};
  }
  const expected = Object.fromEntries(s.workload.ports.map((p) => [`${s.key}|${p.port}`, s.config.app.ports[String(p.port)]]));
  if (!msg.ready || JSON.stringify(msg.ports) !== JSON.stringify(expected)) {
    throw new BackendError(`${where}: ${proc.label} printed an unexpected line: ${escapeControls(line.slice(0, 200))}`);
  }
}

/** Starts the workload's data plane with its current config; resolves when every declared port accepts TCP from the host. */
async function startDataPlane(s: Slot, o: EnvironmentOptions, clockOffsetMs: number | undefined, where: string): Promise<void> {
  checkOffset(clockOffsetMs, s, where);
  const env: Record<string, string | undefined> = {
    ...o.dataPlane.env,
    MESHCONFORM_WORKLOAD_CONFIG: s.configFile,
    MESHCONFORM_WORKLOAD_CONFIGS: undefined,
    // Only a chaos clock-skew fault sets it; one inherited from the user's shell must not skew the data plane.
    MESHCONFORM_CLOCK_OFFSET_MS: clockOffsetMs === undefined ? undefined : String(clockOffsetMs),
    // The data plane's own temporary folder: the harness removes it, even after a SIGKILL.
    MESHCONFORM_TMPDIR: s.tmpDir,
  };
  const proc = spawnInNetns(s.netns, `data plane of ${s.key}`, o.dataPlane.argv, env);
  s.dataPlane = proc;
  s.generation++;
  s.starting = true;
  try {
    await waitReady(s, proc, o.readyTimeoutMs, where);
  } catch (err) {
    await stopProc(proc, 'SIGKILL');
    throw err;
  } finally {
    s.starting = false;
  }
  if (s.hupPending) {
    s.hupPending = false;
    if (running(proc)) proc.child.kill('SIGHUP');
  }
}

function checkOffset(clockOffsetMs: number | undefined, s: Slot, where: string): void {
  if (clockOffsetMs !== undefined && !Number.isSafeInteger(clockOffsetMs)) {
    throw new BackendError(`${where}: clock offset ${clockOffsetMs} for ${s.key} is not a whole number of milliseconds`);
  }
}

async function waitReady(s: Slot, proc: NsProc, timeoutMs: number, where: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = s.workload.ports.map((p) => p.port);
  let delay = 5;
  while (pending.length > 0) {
    if (proc.exit) {
      // Its last words may still be in the pipe: read them (bounded) for the message.
      await proc.exited;
      throw new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
    }
    const checks = await Promise.all(pending.map((port) => tcpAccepts(s.address, port, 250)));
    for (let i = checks.length - 1; i >= 0; i--) if (checks[i]) pending.splice(i, 1);
    if (pending.length === 0) break;
    if (Date.now() > until) {
      throw new BackendError(`${where}: ${proc.label} not ready after ${timeoutMs} ms: nothing accepts TCP on ${pending.map((p) => `${s.address}:${p}`).join(', ')}${tail(proc)}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  // A process that exits right after binding is not a data plane we can probe.
  await sleep(0);
  if (proc.exit) {
    // Its last words may still be in the pipe: read them (bounded) for the message.
    await proc.exited;
    throw new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
  }
}

function deadline(ms: number, message: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new BackendError(message())), ms).unref());
}

function key(w: Workload): WorkloadKey {
  return `${w.namespace}/${w.name}`;
}
