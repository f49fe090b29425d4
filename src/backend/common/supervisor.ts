// The one process supervisor of the local and netns backends: it starts an environment's echo applications and
// data planes, reports every exit it did not ask for as a health problem (it restarts nothing on its own), restarts a
// data plane only when chaos asks, and stops them all. Only how a process is spawned differs between the backends.
import type { DataPlaneProcessState, EnvironmentOptions } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { escapeControls } from '../../util/terminal-text.js';
import type { PrivateDir } from '../../util/private-dir.js';
import { describeExit, firstLine, running, signalLeader, spawnGroup, stopGroup, tail, type GroupProc } from '../process-group.js';
import { deadline, startGuard, waitReady, whereOf } from './readiness.js';
import type { Member } from './workload-files.js';
import type { PooledProcess, ProcessPool } from './process-pool.js';
import { endpointsOf } from './workloads.js';
import { TimedLog } from './timed-log.js';

/** How a process of the environment is started: `spawnGroup`'s signature. */
export type Spawn = (
  label: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options?: { readonly onStdout?: (chunk: string) => void; readonly onOutput?: (stream: 'stdout' | 'stderr', bytes: Buffer) => void },
) => GroupProc;

/** Local: the command as it is. */
export const spawnPlain: Spawn = (label, argv, env, options) => spawnGroup(label, argv, env, options);

/** Inside a network namespace: `ip netns exec` replaces itself with the command (same PID and process group). */
export function spawnInNetns(netns: string): Spawn {
  return (label, argv, env, options) => spawnGroup(label, ['ip', 'netns', 'exec', netns, ...argv], env, options);
}

/** One data-plane process of an environment and the workloads it serves; its process is replaced on every chaos restart. */
export interface Slot {
  readonly label: string;
  readonly members: readonly Member[];
  /** The contract's variables of its data plane: its config file(s) and its own MESHCONFORM_TMPDIR. */
  readonly env: Readonly<Record<string, string>>;
  readonly spawn: Spawn;
  proc?: GroupProc;
  /** Incremented on every start: a canary that a restart really happened. */
  generation: number;
  /** Waiting for readiness: a reload waits too (an early SIGHUP would kill a process without its handler yet). */
  starting: boolean;
  reloadPending: boolean;
  /** Everything its processes wrote, timestamped, across restarts (the evidence beside a failing cell). */
  readonly log: TimedLog;
  /** The reused process serving it (see process-pool.ts); `reloaded` once anything but its lease reloaded it. */
  pooled?: PooledProcess;
  reloaded?: boolean;
}

/** Processes of this environment come from (and go back to) a run's pool, by kind. */
export interface SupervisorReuse {
  readonly pool: ProcessPool;
  /** Identifies the data-plane command and environment: only a process started the same way is reused. */
  readonly dataPlaneKey: string;
  readonly echoKey: string;
}

/** One echo application: its config file lists its listeners; `ports` is what its ready line must report. */
export interface EchoApp {
  readonly label: string;
  readonly configFile: string;
  readonly spawn: Spawn;
  /** `<workload>|<port>` → app port. */
  readonly ports: Readonly<Record<string, number>>;
}

/**
 * Slots of `perProcess` workloads each (one data-plane process per workload when 1), each with its own temporary
 * folder in the environment's private folder: the harness removes it, even after a SIGKILL.
 */
export async function slotsFor(dir: PrivateDir, members: readonly Member[], perProcess: number, spawnFor: (first: Member) => Spawn): Promise<Slot[]> {
  const slots: Slot[] = [];
  for (let i = 0; i < members.length; i += perProcess) {
    const group = members.slice(i, i + perProcess);
    const first = group[0]!;
    const tmpDir = await dir.mkdir(`dp${slots.length}-tmp`);
    const configs: Record<string, string> =
      perProcess === 1 ? { MESHCONFORM_WORKLOAD_CONFIG: first.configFile } : { MESHCONFORM_WORKLOAD_CONFIGS: group.map((m) => m.configFile).join(':') };
    slots.push({
      label: perProcess === 1 ? `data plane of ${first.key}` : `data plane of ${group.length} workloads from ${first.key}`,
      members: group,
      env: { ...configs, MESHCONFORM_TMPDIR: tmpDir },
      spawn: spawnFor(first),
      generation: 0,
      starting: false,
      reloadPending: false,
      log: new TimedLog(),
    });
  }
  return slots;
}

export interface Supervisor {
  /** Starts every echo application and data plane together; resolves once all are ready, rejects on the signal's abort. */
  start(): Promise<void>;
  /** Starts the slot's data plane (again) with its current config; resolves once every port of its workloads accepts TCP. */
  startDataPlane(slot: Slot, clockOffsetMs?: number): Promise<void>;
  /** Stops the slot's data plane with its whole process group (SIGKILL after the grace period for SIGTERM). */
  stopDataPlane(slot: Slot, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** SIGHUP (reload config and TLS files), once the data plane is ready when it is starting. */
  reload(slot: Slot): void;
  state(slot: Slot): DataPlaneProcessState;
  /** Every exit the supervisor did not ask for. */
  health(): string[];
  /** Stops every process; nothing starts afterwards. */
  stop(): Promise<void>;
}

/** What the supervisor's parts share. */
interface Ctx {
  readonly o: EnvironmentOptions;
  readonly where: string;
  readonly reuse: SupervisorReuse | undefined;
  readonly echoProcs: GroupProc[];
  readonly pooledEchoes: PooledProcess[];
  stopped: boolean;
}

export function createSupervisor(o: EnvironmentOptions, slots: readonly Slot[], echoes: readonly EchoApp[], reuse?: SupervisorReuse): Supervisor {
  const c: Ctx = { o, where: whereOf(o), reuse, echoProcs: [], pooledEchoes: [], stopped: false };
  const { where } = c;

  const startDataPlane = async (slot: Slot, clockOffsetMs?: number): Promise<void> => {
    const env: Record<string, string | undefined> = {
      ...o.dataPlane.env,
      MESHCONFORM_WORKLOAD_CONFIG: undefined,
      MESHCONFORM_WORKLOAD_CONFIGS: undefined,
      // Only a chaos clock-skew fault sets it; one inherited from the user's shell must not skew the data plane.
      MESHCONFORM_CLOCK_OFFSET_MS: clockOffsetMs === undefined ? undefined : String(clockOffsetMs),
      ...slot.env,
    };
    slot.log.note(`${slot.label} starting (start ${slot.generation + 1})`);
    slot.starting = true;
    let proc: GroupProc | undefined;
    try {
      const launched = await launch(c, slot, env);
      proc = launched.proc;
      if (launched.reused) slot.log.note(`${slot.label}: a reused process (pid ${proc.pid}) took this scenario's config on a SIGHUP`);
      slot.proc = proc;
      slot.generation++;
      const endpoints = slot.members.flatMap((m) => endpointsOf(m.address, m.workload));
      const p = proc;
      const exited = () => (p.exit ? exitedAtStart(p, where).catch((err: Error) => err) : undefined);
      await waitReady([{ label: proc.label, endpoints, exited, tail: () => tail(p) }], { timeoutMs: o.readyTimeoutMs, where, signal: o.signal });
    } catch (err) {
      if (proc) await stopGroup(proc, 'SIGKILL');
      throw err;
    } finally {
      slot.starting = false;
    }
    if (slot.reloadPending) reload(slot);
  };

  const reload = (slot: Slot): void => {
    slot.log.note(`SIGHUP to ${slot.label}: reload of its config and TLS files`);
    // A reused process answers this reload too: it cannot serve another scenario (its next line is not ours).
    slot.reloaded = true;
    slot.reloadPending = slot.starting;
    if (!slot.starting) signalLeader(slot.proc, 'SIGHUP');
  };

  const procs = () => [...c.echoProcs, ...slots.flatMap((s) => (s.proc ? [s.proc] : []))];
  return {
    async start() {
      const all = [...echoes.map((e) => startEcho(c, e)), ...slots.map((s) => startDataPlane(s))];
      for (const p of all) p.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      await Promise.race([startGuard(o).aborted, Promise.all(all)]);
    },
    startDataPlane,
    stopDataPlane: (slot, signal) => (slot.proc ? stopGroup(slot.proc, signal) : Promise.resolve()),
    reload,
    state(slot) {
      const up = running(slot.proc);
      return { pid: up ? slot.proc!.pid : undefined, running: up, generation: slot.generation };
    },
    health: () => procs().flatMap((p) => (p.exit && !p.expectedExit ? [`${p.label} exited (${describeExit(p)})${tail(p)}`] : [])),
    async stop() {
      c.stopped = true;
      await stopAll(c, slots, procs());
    },
  };
}

/** Nothing starts once the environment is stopping. */
function ensureLive(c: Ctx): void {
  if (c.stopped) throw new BackendError(`${c.where}: the environment is stopped`);
}

function spawnChecked(c: Ctx, sp: Spawn, ...args: Parameters<Spawn>): GroupProc {
  ensureLive(c);
  return sp(...args);
}

function reloadOptions(c: Ctx, ready: (line: string) => boolean) {
  return { timeoutMs: c.o.readyTimeoutMs, ready, where: c.where };
}

/** Starts (or takes from the pool) one echo application; resolves once it reported exactly its ports. */
async function startEcho(c: Ctx, e: EchoApp): Promise<void> {
  const { o, where, reuse } = c;
  const echoReady = (line: string) => reportsPorts(line, e.ports);
  if (reuse) {
    const taken = await reuse.pool.take(reuse.echoKey, [e.configFile], reloadOptions(c, echoReady)).catch(() => undefined);
    if (taken) {
      taken.proc.label = e.label;
      c.pooledEchoes.push(taken);
      c.echoProcs.push(taken.proc);
      return;
    }
  }
  const ready = firstLine();
  let proc: GroupProc;
  if (reuse) {
    ensureLive(c);
    const p = await reuse.pool.spawn(reuse.echoKey, e.spawn, e.label, o.echoArgv, {}, 'MESHCONFORM_ECHO_CONFIG', [e.configFile]);
    c.pooledEchoes.push(p);
    proc = p.proc;
    void p.firstLine.then((line) => ready.onStdout(`${line}\n`));
  } else {
    proc = spawnChecked(c, e.spawn, e.label, o.echoArgv, { MESHCONFORM_ECHO_CONFIG: e.configFile }, { onStdout: ready.onStdout });
  }
  c.echoProcs.push(proc);
  const timeout = deadline(o.readyTimeoutMs, () => `${where}: ${proc.label} not ready after ${o.readyTimeoutMs} ms${tail(proc)}`);
  const line = await Promise.race([ready.line, exitedAtStart(proc, where), timeout]);
  if (!echoReady(line)) throw new BackendError(`${where}: ${proc.label} printed an unexpected line: ${escapeControls(line.slice(0, 200))}`);
}

/** The slot's process: an idle reused one pointed at its config, or a new one (reusable when `reuse`). */
async function launch(c: Ctx, slot: Slot, env: Record<string, string | undefined>): Promise<{ proc: GroupProc; reused: boolean }> {
  const { o, reuse } = c;
  const toLog = (stream: 'stdout' | 'stderr', bytes: Buffer) => slot.log.push(stream, bytes);
  if (!reuse || env.MESHCONFORM_CLOCK_OFFSET_MS !== undefined) {
    return { proc: spawnChecked(c, slot.spawn, slot.label, o.dataPlane.argv, env, { onOutput: toLog }), reused: false };
  }
  const configFiles = slot.members.map((m) => m.configFile);
  // A reused process that cannot take the config is stopped; a new one then says what is wrong, if anything is.
  const taken = await reuse.pool
    .take(
      reuse.dataPlaneKey,
      configFiles,
      reloadOptions(c, (line) => line === 'reloaded'),
    )
    .catch((err: Error) => {
      slot.log.note(`a reused process could not serve ${slot.label}, starting a new one: ${err.message}`);
      return undefined;
    });
  ensureLive(c);
  const configVar = configFiles.length === 1 ? 'MESHCONFORM_WORKLOAD_CONFIG' : 'MESHCONFORM_WORKLOAD_CONFIGS';
  const p = taken ?? (await reuse.pool.spawn(reuse.dataPlaneKey, slot.spawn, slot.label, o.dataPlane.argv, env, configVar, configFiles));
  p.proc.label = slot.label;
  p.sink = toLog;
  slot.pooled = p;
  return { proc: p.proc, reused: taken !== undefined };
}

/** Stops the environment's processes; a reused one that served it cleanly goes back to the pool instead. */
async function stopAll(c: Ctx, slots: readonly Slot[], procs: readonly GroupProc[]): Promise<void> {
  const back = new Set<GroupProc>();
  const returns: Promise<void>[] = [];
  for (const s of slots) {
    if (c.reuse && s.pooled && s.proc === s.pooled.proc && !s.reloaded && !s.proc.expectedExit) {
      back.add(s.proc);
      returns.push(c.reuse.pool.give(s.pooled));
    }
  }
  for (const p of c.pooledEchoes) {
    back.add(p.proc);
    returns.push(c.reuse!.pool.give(p));
  }
  await Promise.all([...returns, ...procs.filter((p) => !back.has(p)).map((p) => stopGroup(p))]);
}

/** Rejects, after its last words are read, once the process exits. */
async function exitedAtStart(proc: GroupProc, where: string): Promise<never> {
  await proc.exited;
  throw new BackendError(`${where}: ${proc.label} exited at start (${describeExit(proc)})${tail(proc)}`);
}

/** The echo app's ready line, `{"ready":true,"ports":{…}}`, reporting exactly the expected ports (in any order). */
function reportsPorts(line: string, expected: Readonly<Record<string, number>>): boolean {
  let msg: { ready?: unknown; ports?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return false;
  }
  if (msg.ready !== true || typeof msg.ports !== 'object' || msg.ports === null) return false;
  const sorted = (ports: object) => JSON.stringify(Object.entries(ports).sort(([a], [b]) => a.localeCompare(b)));
  return sorted(msg.ports) === sorted(expected);
}
