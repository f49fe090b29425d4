import { randomBytes } from 'node:crypto';
import type { HostBackend, ChaosCapability, Environment, EnvironmentChaos, EnvironmentOptions } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { claimSubnet, conflicts } from '../common/pick-subnet.js';
import { startProcessEnvironment, type ChaosContext } from '../common/process-environment.js';
import { startGuard, whereOf, type StartGuard } from '../common/readiness.js';
import { createRunSweep } from '../common/run-sweep.js';
import { spawnInNetns } from '../common/supervisor.js';
import type { Member } from '../common/workload-files.js';
import { checkWorkloads } from '../common/workloads.js';
import { isUnstopped, removeOnExit, type Created } from './forced-exit.js';
import { ip, ipBatch, iptablesIn } from './ip.js';
import { envNames, type EnvNames } from './names.js';
import { hasIptables, netnsHostProblem } from './preflight.js';
import { removeNetns, removeRunNetns } from './reap.js';
import { hostPrefixes } from './used-subnets.js';

export interface NetnsBackendOptions {
  /** Random source for the /24 pick (default Math.random). */
  readonly random?: () => number;
}

/** The netns backend, plus the run-wide sweep the CLI registers for SIGINT/SIGTERM. */
export interface NetnsBackend extends HostBackend {
  /** From now on no environment of `runId` starts. Synchronous, for signal handlers. */
  closeRun(runId: string): void;
  /** closeRun, then removes every namespace and host interface of `runId`, after waiting for starts in flight. Idempotent. */
  removeRun(runId: string): Promise<void>;
}

/** Packet loss joins these when iptables is on PATH. */
const NETNS_CHAOS: readonly ChaosCapability[] = ['data-plane-process', 'workload-tls', 'distribution-pause', 'clock-skew'];
/** .1 is the host's end of the uplink; workloads take .2–.254 of the environment's /24. */
const LIMITS = { backend: 'netns', max: 253, maxReason: 'one /24', onePerWorkload: 'one data plane per workload namespace' };
/** The echo application is reachable only inside the workload's namespace: nothing bypasses the data plane. */
const APP_ADDRESS = '127.0.0.1';
/** The workload's interface inside its namespace. */
const WORKLOAD_IF = 'eth0';

/** /24s of this process's environments: parallel starts must not pick the same one (other processes: `claimSubnet`). */
const claimed = new Set<string>();

interface StartContext {
  readonly random: () => number;
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
  const sweep = createRunSweep();
  let host: Promise<string | undefined> | undefined;

  return {
    name: 'netns',
    chaosCapabilities: capabilities,
    start: (o) =>
      sweep.start(o.runId, async () => {
        host ??= netnsHostProblem();
        const problem = await host;
        if (problem) throw new BackendError(problem);
        return startEnvironment(o, { random, iptables, capabilities, closed: () => sweep.closed(o.runId) });
      }),
    closeRun: (runId) => sweep.closeRun(runId),
    removeRun: (runId) =>
      sweep.removeRun(runId, async () => {
        if (!host || (await host)) return; // nothing was ever created
        await removeRunNetns(runId);
      }),
  };
}

async function startEnvironment(o: EnvironmentOptions, ctx: StartContext): Promise<Environment> {
  const where = whereOf(o);
  checkWorkloads(o, where, LIMITS);
  // The host interface's name has only the environment id: unique among this process's environments.
  let envId: string;
  do envId = randomBytes(3).toString('hex');
  while (isUnstopped(envId));
  const names = envNames(o.runId, envId);
  // Recorded before each creation, so a failure or interrupt half-way removes whatever exists.
  const created: Created = { namespaces: [], hostIf: undefined };
  const forget = removeOnExit(envId, created);
  const guard = startGuard(o, ctx.closed);
  const lossRules = new Set<() => Promise<void>>();
  const netnsOf = (m: Member) => names.workload(m.index);
  let subnet: string | undefined;
  return startProcessEnvironment(o, {
    dirPrefix: 'meshconform-netns-',
    guard,
    async prepare() {
      subnet = await createNetwork(names, o.scenario.workloads.length, created, guard, ctx.random, where);
      const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
      return o.scenario.workloads.map((_, i) => ({ address: `${prefix}.${i + 2}`, appAddress: APP_ADDRESS }));
    },
    async teardown() {
      // Faults end explicitly; deleting the namespace would remove the rules anyway.
      for (const remove of lossRules) await remove().catch(() => undefined);
      try {
        await removeNetns(created.namespaces, created.hostIf ? [created.hostIf] : []);
      } catch (err) {
        throw new BackendError(`${where}: ${(err as Error).message}`, { cause: err });
      } finally {
        if (subnet) claimed.delete(subnet);
      }
      forget();
    },
    spawnFor: (m) => spawnInNetns(netnsOf(m)),
    echoPerWorkload: true,
    capabilities: ctx.capabilities,
    moreChaos: (c) => packetLossChaos(c, { where, iptables: ctx.iptables, lossRules, netnsOf }),
  });
}

/**
 * The hub namespace with its bridge, one namespace per workload with its address, and the host's uplink with a
 * claimed /24 (returned). Short `ip` steps are never abandoned half-way (their result must be known to be removed);
 * the guard's checks go between them.
 */
async function createNetwork(names: EnvNames, count: number, created: Created, guard: StartGuard, random: () => number, where: string): Promise<string> {
  guard.check();
  const workloadNs = Array.from({ length: count }, (_, i) => names.workload(i));
  created.namespaces.push(names.hub, ...workloadNs);
  await ipBatch(created.namespaces.map((n) => `netns add ${n}`));
  const veths = workloadNs.flatMap((n, i) => [`link add vw${i} type veth peer name ${WORKLOAD_IF} netns ${n}`, `link set vw${i} master br0`, `link set vw${i} up`]);
  await ipBatch(['link add br0 type bridge', 'link set br0 up', ...veths], names.hub);
  guard.check();
  await ip(['link', 'add', names.hostIf, 'type', 'veth', 'peer', 'name', 'up0', 'netns', names.hub]);
  // Marked ours only once created: a name another process holds ("File exists") must never be deleted by us.
  created.hostIf = names.hostIf;
  await ipBatch([`link set ${names.hostIf} alias ${names.hub}`, `link set ${names.hostIf} up`]);
  await ipBatch(['link set up0 master br0', 'link set up0 up'], names.hub);
  guard.check();
  const subnet = await claimSubnet({ used: hostPrefixes, take: (base) => takeSubnet(base, names.hostIf), claimed, random, where, takenBy: 'routed or addressed on this host' });
  const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
  await Promise.all(workloadNs.map((n, i) => ipBatch(['link set lo up', `addr add ${prefix}.${i + 2}/24 dev ${WORKLOAD_IF}`, `link set ${WORKLOAD_IF} up`], n)));
  guard.check();
  return subnet;
}

/** Adds the host's address on the /24 and keeps it only if no other interface took the same /24 meanwhile. */
async function takeSubnet(base: string, hostIf: string): Promise<boolean> {
  const hostAddress = `${base.slice(0, base.lastIndexOf('.'))}.1/24`;
  await ip(['addr', 'add', hostAddress, 'dev', hostIf]);
  if (conflicts(await hostPrefixes(), base, hostIf).length === 0) return true;
  await ip(['addr', 'del', hostAddress, 'dev', hostIf]);
  return false;
}

interface LossContext {
  readonly where: string;
  readonly iptables: boolean;
  /** Removers of the rules in place, for the environment's stop. */
  readonly lossRules: Set<() => Promise<void>>;
  readonly netnsOf: (m: Member) => string;
}

/** Packet loss by iptables `statistic` rules in the workload's namespace, and the kernel's count of what they dropped. */
function packetLossChaos(c: ChaosContext, l: LossContext): Partial<EnvironmentChaos> {
  return {
    async packetLoss(w, percent) {
      const netns = l.netnsOf(c.member(w));
      c.ensureLive(`packet loss for ${w}`);
      if (!l.iptables) throw new BackendError(`${l.where}: packet loss for ${w} needs iptables on PATH (apt-get install iptables)`);
      if (!Number.isFinite(percent) || percent <= 0 || percent > 100) throw new BackendError(`${l.where}: packet loss for ${w}: ${percent} % is not in (0, 100]`);
      // Only what arrives from the network: the data plane's own loopback leg to the echo app stays intact.
      const match = ['-i', WORKLOAD_IF, '-m', 'statistic', '--mode', 'random', '--probability', (percent / 100).toFixed(6)];
      const rule = ['INPUT', ...match, '-m', 'comment', '--comment', `meshconform packet-loss ${percent}%`, '-j', 'DROP'];
      await iptablesIn(netns, ['-A', ...rule]);
      let removed = false;
      const remove = async () => {
        if (removed) return;
        removed = true;
        l.lossRules.delete(remove);
        await iptablesIn(netns, ['-D', ...rule]);
      };
      l.lossRules.add(remove);
      return async () => {
        if (removed || c.stopped()) return;
        await remove();
      };
    },
    async droppedPackets(w) {
      const netns = l.netnsOf(c.member(w));
      c.ensureLive(`read the packet-loss counters of ${w}`);
      // The kernel's own count of packets the fault's DROP rules matched: proof the loss happened (a slow connect is not).
      const out = await iptablesIn(netns, ['-L', 'INPUT', '-v', '-x', '-n']);
      return out
        .split('\n')
        .filter((line) => line.includes('meshconform packet-loss') && /\sDROP\s/.test(line))
        .reduce((n, line) => n + (Number(line.trim().split(/\s+/)[0]) || 0), 0);
    },
  };
}
