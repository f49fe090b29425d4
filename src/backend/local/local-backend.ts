import type { HostBackend, ChaosCapability, Environment, EnvironmentOptions } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { bindProblem } from '../../util/net.js';
import { startProcessEnvironment } from '../common/process-environment.js';
import { createProcessPool, type ProcessPool } from '../common/process-pool.js';
import { startGuard, whereOf } from '../common/readiness.js';
import { spawnPlain } from '../common/supervisor.js';
import { checkWorkloads, workloadKey } from '../common/workloads.js';

export interface LocalBackendOptions {
  /** First two octets of the loopback /16 the run's workloads get addresses in, e.g. `127.77`. Random when absent. */
  readonly subnet?: string;
}

/** What the local backend can do to a running environment; only with one workload per data-plane process. */
const LOCAL_CHAOS: readonly ChaosCapability[] = ['data-plane-process', 'workload-tls', 'distribution-pause', 'clock-skew'];

const ADDRESSES_PER_SUBNET = 254 * 254;

/** Loopback backend: every workload gets its own 127.x.y.z address, so declared ports are used as they are. */
export function createLocalBackend(options: LocalBackendOptions = {}): HostBackend {
  const subnet = options.subnet ?? `127.${64 + Math.floor(Math.random() * 190)}`;
  if (!/^127\.(\d{1,3})$/.test(subnet) || Number(subnet.split('.')[1]) > 255) {
    throw new BackendError(`invalid local subnet "${subnet}": expected the first two octets of a loopback /16, like 127.77`);
  }
  // Environments that run at the same time must not share addresses: each takes fresh ones.
  let next = 0;
  const allocate = (count: number): string[] => {
    if (next + count > ADDRESSES_PER_SUBNET) throw new BackendError(`local backend: more than ${ADDRESSES_PER_SUBNET} workloads in one run on ${subnet}.0.0/16`);
    const first = next;
    next += count;
    return Array.from({ length: count }, (_, i) => addressFor(subnet, first + i));
  };
  // Data planes and echo applications reused between the run's static scenarios; closed with the run.
  const pool = createProcessPool('meshconform-local-pool-');
  return {
    name: 'local',
    // Read at the end of the run: how many processes the reuse saved.
    get details() {
      const { started, reused, packed, mostWorkloads } = pool.stats();
      return {
        localSubnet: subnet,
        ...(started > 0 ? { reusedProcesses: `${reused} of ${started + reused} starts served by a reused process` } : {}),
        ...(packed > 0 ? { packedProcesses: `${packed} data-plane starts served several workloads of a scenario (up to ${mostWorkloads})` } : {}),
      };
    },
    chaosCapabilities: LOCAL_CHAOS,
    start: (o) => startLocal(o, allocate(o.scenario.workloads.length), pool),
    // An interrupt: nothing is taken from the pool any more, and its processes go at once.
    closeRun: () => void pool.close(),
    removeRun: () => pool.close(),
    releaseIdle: () => pool.releaseIdle(),
  };
}

function addressFor(subnet: string, index: number): string {
  return `${subnet}.${Math.floor(index / 254) + 1}.${(index % 254) + 1}`;
}

/** The data planes listen on the workloads' own addresses; the echo application on the same ones, on other ports. */
function startLocal(o: EnvironmentOptions, addresses: readonly string[], pool: ProcessPool): Promise<Environment> {
  return startProcessEnvironment(o, {
    dirPrefix: 'meshconform-local-',
    guard: startGuard(o),
    async prepare() {
      checkWorkloads(o, whereOf(o));
      await refuseTakenPorts(o, addresses);
      return addresses.map((address) => ({ address, appAddress: address }));
    },
    teardown: async () => {},
    spawnFor: () => spawnPlain,
    echoPerWorkload: false,
    // Chaos acts on one workload's data plane: only with one workload per process.
    capabilities: o.dataPlane.workloadsPerProcess > 1 ? undefined : LOCAL_CHAOS,
    pool,
  });
}

/** A port held by another process would answer our readiness check: refuse to start instead. */
async function refuseTakenPorts(o: EnvironmentOptions, addresses: readonly string[]): Promise<void> {
  for (const [i, w] of o.scenario.workloads.entries()) {
    const address = addresses[i]!;
    for (const p of w.ports) {
      const problem = await bindProblem(address, p.port);
      if (problem) {
        const why = problem === 'EADDRINUSE' ? 'address already in use' : problem;
        throw new BackendError(`${whereOf(o)}: workload ${workloadKey(w)} port ${p.port}: cannot use ${address}:${p.port} (${why})`);
      }
    }
  }
}
