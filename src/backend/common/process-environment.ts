// The Environment of a process backend (local, netns): the private folder with every workload's files, the
// supervised echo applications and data planes, policies and TLS by file replace + SIGHUP, health and chaos through
// the supervisor, receipts from the echo applications' files. Only what surrounds the processes differs.
import { readFile } from 'node:fs/promises';
import type {
  ChaosCapability,
  Environment,
  EnvironmentChaos,
  EnvironmentOptions,
  PeerAuthenticationManifest,
  WorkloadConfig,
  WorkloadKey,
  WorkloadTarget,
} from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { readReceiptsFile } from '../app-receipts.js';
import { whereOf, type StartGuard } from './readiness.js';
import { createSupervisor, slotsFor, type Slot, type Spawn, type Supervisor, type SupervisorReuse } from './supervisor.js';
import type { ProcessPool } from './process-pool.js';
import { writeAppTls, writeConfig, writeEchoApp, writeMember, writeTls, type Member } from './workload-files.js';
import { targetOf } from './workloads.js';
import { slotEvidence } from './host-evidence.js';

/** What a process backend adds around the processes. */
export interface ProcessBackendStart {
  /** Of the environment's private folder (`meshconform reap` lists them). */
  readonly dirPrefix: string;
  readonly guard: StartGuard;
  /** Creates what the processes need (the network); returns where each workload's data plane and echo app listen. */
  prepare(): Promise<readonly { readonly address: string; readonly appAddress: string }[]>;
  /** Removes what `prepare` created, once the processes have stopped; on stop and after a failed start. */
  teardown(): Promise<void>;
  /** How the processes serving `m` start. */
  spawnFor(m: Member): Spawn;
  /** One echo application per workload (each in its own network), or one for all. */
  readonly echoPerWorkload: boolean;
  /** Chaos controls with these capabilities; none when absent. */
  readonly capabilities?: readonly ChaosCapability[] | undefined;
  /** Chaos controls only this backend has. */
  readonly moreChaos?: (ctl: ChaosContext) => Partial<EnvironmentChaos>;
  /** Where processes are reused between scenarios (when the options and the data plane allow it). */
  readonly pool?: ProcessPool;
}

/** Starts the environment's processes around what `b` prepares; a failed or interrupted start removes everything. */
export async function startProcessEnvironment(o: EnvironmentOptions, b: ProcessBackendStart): Promise<Environment> {
  let dir: PrivateDir | undefined;
  let supervisor: Supervisor | undefined;
  let stopping: Promise<void> | undefined;
  // One stop, however many callers (the scenario's teardown, a signal handler): each waits for all of it.
  const stop = () =>
    (stopping ??= (async () => {
      await supervisor?.stop();
      const teardown = await b.teardown().then(
        () => undefined,
        (err: unknown) => ({ err }),
      );
      await dir?.remove();
      if (teardown) throw teardown.err;
    })());
  try {
    const places = await b.prepare();
    b.guard.check();
    const d = (dir = await createPrivateDir(b.dirPrefix));
    const members = await Promise.all(places.map((p, i) => writeMember(d, o, i, p.address, p.appAddress)));
    const appTls = await writeAppTls(d, o);
    const echoes = await Promise.all(
      b.echoPerWorkload
        ? members.map((m) => writeEchoApp(d, `w${m.index}-echo`, `echo application of ${m.key}`, [m], appTls, b.spawnFor(m)))
        : [writeEchoApp(d, 'echo', 'echo application', members, appTls, b.spawnFor(members[0]!))],
    );
    const reuse = reuseOf(o, b.pool);
    const perProcess = reuse && o.dataPlane.packWorkloads ? Math.min(members.length, PACKED_WORKLOADS_LIMIT) : Math.max(1, o.dataPlane.workloadsPerProcess);
    const slots = await slotsFor(d, members, perProcess, b.spawnFor);
    b.guard.check();
    supervisor = createSupervisor(o, slots, echoes, reuse);
    await supervisor.start();
    b.guard.check();
    const receiptsFiles = echoes.map((e) => e.receiptsFile);
    // Chaos acts on one workload's process: none when a process serves several.
    const { capabilities, moreChaos } = perProcess > 1 ? { capabilities: undefined, moreChaos: undefined } : b;
    const context = { scenario: o.scenario.name, meshMode: o.meshMode };
    return processEnvironment({ where: whereOf(o), dir: d, slots, supervisor, receiptsFiles, capabilities, moreChaos, stopped: () => stopping !== undefined, stop, context });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Workloads one packed process serves at most (a larger scenario gets several): one Node process per 100 workloads
 * keeps the probing rate of the scale run.
 */
export const PACKED_WORKLOADS_LIMIT = 100;

/** Reuse applies to static scenarios of a data plane that declares it. */
function reuseOf(o: EnvironmentOptions, pool: ProcessPool | undefined): SupervisorReuse | undefined {
  if (!pool || o.reuse !== true || !o.dataPlane.capabilities?.includes('reuse')) return undefined;
  return { pool, dataPlaneKey: JSON.stringify([o.dataPlane.argv, o.dataPlane.env ?? {}]), echoKey: JSON.stringify(o.echoArgv) };
}

interface ProcessEnvironmentParts {
  readonly where: string;
  readonly dir: PrivateDir;
  readonly slots: readonly Slot[];
  readonly supervisor: Supervisor;
  readonly receiptsFiles: readonly string[];
  readonly capabilities?: readonly ChaosCapability[] | undefined;
  readonly moreChaos?: ((ctl: ChaosContext) => Partial<EnvironmentChaos>) | undefined;
  readonly stopped: () => boolean;
  readonly stop: () => Promise<void>;
  /** Names the environment's attachments (unique in the run). */
  readonly context: { readonly scenario: string; readonly meshMode: string };
}

/** What chaos controls act through. */
export interface ChaosContext {
  /** The workload's member; rejects a workload not in the environment. */
  member(w: WorkloadKey): Member;
  /** Throws once the environment is stopped. */
  ensureLive(what: string): void;
  stopped(): boolean;
}

function processEnvironment(e: ProcessEnvironmentParts): Environment {
  const ctl = chaosContext(e);
  const members = e.slots.flatMap((s) => s.members);
  return {
    targets: new Map<WorkloadKey, WorkloadTarget>(members.map((m) => [m.key, targetOf(m.address, m.workload)])),
    async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
      ctl.ensureLive('apply policies');
      const reload = new Set<Slot>();
      for (const s of e.slots) {
        for (const m of s.members) {
          // A paused workload keeps what it had (fail-static is what the chaos fault checks).
          if (m.paused) continue;
          m.config.policies = policies.map((p) => structuredClone(p));
          await writeConfig(e.dir, m);
          reload.add(s);
        }
      }
      for (const s of reload) e.supervisor.reload(s);
    },
    health: () => e.supervisor.health(),
    receipts: async () => (await Promise.all(e.receiptsFiles.map(readReceiptsFile))).flat(),
    ...(e.capabilities ? { chaos: processChaos(e, e.capabilities, ctl) } : {}),
    evidence: async (requests, options) => slotEvidence(e.slots, requests, e.context, options),
    stop: e.stop,
  };
}

function chaosContext(e: ProcessEnvironmentParts): ChaosContext {
  return {
    member(w) {
      for (const s of e.slots) for (const m of s.members) if (m.key === w) return m;
      throw new BackendError(`${e.where}: no workload ${w} in this environment`);
    },
    ensureLive(what) {
      if (e.stopped()) throw new BackendError(`${e.where}: ${what}: the environment is stopped`);
    },
    stopped: e.stopped,
  };
}

function processChaos(e: ProcessEnvironmentParts, capabilities: readonly ChaosCapability[], ctl: ChaosContext): EnvironmentChaos {
  const { where, supervisor } = e;
  const slotOf = (w: WorkloadKey): Slot => {
    const m = ctl.member(w);
    return e.slots.find((s) => s.members.includes(m))!;
  };
  return {
    capabilities,
    dataPlane: (w) => supervisor.state(slotOf(w)),
    async killDataPlane(w, signal) {
      const s = slotOf(w);
      ctl.ensureLive(`kill the data plane of ${w}`);
      if (signal !== 'SIGKILL' && signal !== 'SIGTERM') throw new BackendError(`${where}: cannot send ${String(signal)} to the data plane of ${w}: SIGKILL or SIGTERM only`);
      if (!supervisor.state(s).running) throw new BackendError(`${where}: the data plane of ${w} is not running`);
      // Like a killed pod, its whole process tree goes (a launcher's proxy child, too).
      await supervisor.stopDataPlane(s, signal);
    },
    async startDataPlane(w, opts) {
      const s = slotOf(w);
      ctl.ensureLive(`start the data plane of ${w}`);
      const offset = opts?.clockOffsetMs;
      if (offset !== undefined && !Number.isSafeInteger(offset)) throw new BackendError(`${where}: clock offset ${offset} for ${w} is not a whole number of milliseconds`);
      const state = supervisor.state(s);
      if (state.running) throw new BackendError(`${where}: the data plane of ${w} is already running (pid ${state.pid})`);
      await supervisor.startDataPlane(s, offset);
    },
    async installTls(w, tls) {
      const m = ctl.member(w);
      ctl.ensureLive(`install TLS material for ${w}`);
      // Each file is replaced atomically; the data plane reads them together on the SIGHUP that follows.
      await writeTls(e.dir, m.index, tls);
      supervisor.reload(slotOf(w));
    },
    pauseDistribution(w, paused) {
      ctl.member(w).paused = paused;
    },
    async deliveredPolicies(w) {
      const m = ctl.member(w);
      ctl.ensureLive(`read the config of ${w}`);
      // The file the data plane reads, not our copy of it: proves what was (or was not) delivered.
      try {
        return (JSON.parse(await readFile(m.configFile, 'utf8')) as WorkloadConfig).policies;
      } catch (err) {
        throw new BackendError(`${where}: cannot read the data-plane config of ${w} (${m.configFile}): ${(err as Error).message}`, { cause: err });
      }
    },
    ...e.moreChaos?.(ctl),
  };
}
