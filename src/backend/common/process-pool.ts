// Reuse of data-plane and echo-application processes between the static scenarios of one run (local backend):
// starting Node processes is most of what a small scenario costs. A process is reused only through the data-plane
// contract's own reload: each file it was started with is a symbolic link, re-pointed at the next scenario's config
// before a SIGHUP, and the process answers with `reloaded` (data plane) or its ready line (echo application). A
// process serving N workloads (MESHCONFORM_WORKLOAD_CONFIGS) is reused only for N workloads again.
// Only data planes that declare the `reuse` capability take part (the reference ones; an exec: data plane opts in),
// because isolation between scenarios is part of what a data plane under test is judged on.
import { randomBytes } from 'node:crypto';
import { rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendError } from '../../util/errors.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { running, signalLeader, stopGroup, tail, type GroupProc } from '../process-group.js';
import type { Spawn } from './supervisor.js';

/** One reusable process: the links it reads its configs through, and where its output goes while leased. */
export interface PooledProcess {
  readonly key: string;
  readonly proc: GroupProc;
  /** The paths the process was started with (`MESHCONFORM_WORKLOAD_CONFIG(S)` / `MESHCONFORM_ECHO_CONFIG`), one per config file. */
  readonly links: readonly string[];
  /** The lease's output sink (its slot's timed log); output of an idle process is dropped. */
  sink: ((stream: 'stdout' | 'stderr', bytes: Buffer) => void) | undefined;
  /** Resolves the current reload's wait with the next whole stdout line. */
  nextLine: ((line: string) => void) | undefined;
  partial: string;
  /** Its first stdout line (the echo application's ready line). */
  readonly firstLine: Promise<string>;
}

export interface ProcessPool {
  /** An idle process of this kind reading as many files, already pointed at `configFiles` and reloaded; undefined when none is idle. */
  take(key: string, configFiles: readonly string[], o: ReloadOptions): Promise<PooledProcess | undefined>;
  /**
   * Starts a new reusable process reading `configFiles` through its links; `configVar` names the variable the links
   * go in (joined by ":"). Its first readiness is the caller's (as for any fresh process).
   */
  spawn(
    key: string,
    spawn: Spawn,
    label: string,
    argv: readonly string[],
    env: Record<string, string | undefined>,
    configVar: string,
    configFiles: readonly string[],
  ): Promise<PooledProcess>;
  /** Back to the idle list, unless it exited or the pool is closed (then it is stopped). */
  give(p: PooledProcess): Promise<void>;
  /** Stops every process it ever started (idle or leased) and removes its folder; nothing is taken afterwards. */
  close(): Promise<void>;
  /** Stops the idle processes (no later scenario will take them); leased ones come back and are kept as usual. */
  releaseIdle(): Promise<void>;
  /** Processes started, leases served by a process started earlier, and leases of a process serving several workloads (the most). */
  stats(): { readonly started: number; readonly reused: number; readonly packed: number; readonly mostWorkloads: number };
}

export interface ReloadOptions {
  readonly timeoutMs: number;
  /** True when the reload's answer line means ready (`reloaded`, or the echo app's ready JSON). */
  readonly ready: (line: string) => boolean;
  readonly where: string;
}

export function createProcessPool(dirPrefix: string): ProcessPool {
  let dir: PrivateDir | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let started = 0;
  let reused = 0;
  let packed = 0;
  let mostWorkloads = 0;
  const lease = (files: readonly string[]) => {
    if (files.length > 1) packed++;
    mostWorkloads = Math.max(mostWorkloads, files.length);
  };
  const idle: PooledProcess[] = [];
  const all = new Set<PooledProcess>();
  const folder = async () => (dir ??= await createPrivateDir(dirPrefix));

  return {
    async take(key, configFiles, o) {
      while (!closed) {
        const i = idle.findIndex((p) => p.key === key && p.links.length === configFiles.length);
        if (i < 0) return undefined;
        const p = idle.splice(i, 1)[0]!;
        if (!running(p.proc)) {
          all.delete(p);
          continue;
        }
        try {
          await reload(p, configFiles, o);
          reused++;
          lease(configFiles);
          return p;
        } catch (err) {
          all.delete(p);
          await stopGroup(p.proc, 'SIGKILL');
          throw err;
        }
      }
      return undefined;
    },
    async spawn(key, spawn, label, argv, env, configVar, configFiles) {
      if (closed) throw new BackendError(`${label}: the run is being cleaned up`);
      const d = await folder();
      const name = `p${all.size}-${randomBytes(3).toString('hex')}`;
      const links = configFiles.map((_, i) => join(d.path, `${name}-${i}.json`));
      await Promise.all(links.map((link, i) => point(link, configFiles[i]!)));
      // Its own MESHCONFORM_TMPDIR, which outlives the scenario that started it.
      const tmpDir = await d.mkdir(`${name}-tmp`);
      const holder: { p?: PooledProcess } = {};
      let first!: (line: string) => void;
      const firstLine = new Promise<string>((resolve) => (first = resolve));
      // Checked again after the awaits above: a process started after close() would outlive the run.
      if (closed) throw new BackendError(`${label}: the run is being cleaned up`);
      const proc = spawn(
        label,
        argv,
        { ...env, MESHCONFORM_TMPDIR: tmpDir, [configVar]: links.join(':') },
        {
          onOutput: (stream, bytes) => holder.p?.sink?.(stream, bytes),
          onStdout: (chunk) => holder.p && onStdout(holder.p, chunk),
        },
      );
      const p: PooledProcess = { key, proc, links, sink: undefined, nextLine: first, partial: '', firstLine };
      holder.p = p;
      all.add(p);
      started++;
      lease(configFiles);
      return p;
    },
    async give(p) {
      p.sink = undefined;
      p.nextLine = undefined;
      if (closed || !running(p.proc) || !all.has(p)) {
        all.delete(p);
        await stopGroup(p.proc);
        return;
      }
      idle.push(p);
    },
    stats: () => ({ started, reused, packed, mostWorkloads }),
    async releaseIdle() {
      const gone = idle.splice(0);
      for (const p of gone) all.delete(p);
      await Promise.all(gone.map((p) => stopGroup(p.proc)));
    },
    close() {
      closing ??= (async () => {
        closed = true;
        idle.length = 0;
        const procs = [...all].map((p) => p.proc);
        all.clear();
        await Promise.all(procs.map((proc) => stopGroup(proc)));
        await dir?.remove();
      })();
      return closing;
    },
  };
}

/** Re-points `link` at `target` atomically: a reload never reads a missing link. */
async function point(link: string, target: string): Promise<void> {
  const tmp = `${link}.${randomBytes(4).toString('hex')}`;
  await symlink(target, tmp);
  await rename(tmp, link);
}

/** Splits the process's stdout into lines; each line resolves the waiter of the moment, if any. */
function onStdout(p: PooledProcess, chunk: string): void {
  p.partial += chunk;
  let nl = p.partial.indexOf('\n');
  while (nl >= 0) {
    const line = p.partial.slice(0, nl);
    p.partial = p.partial.slice(nl + 1);
    const waiter = p.nextLine;
    p.nextLine = undefined;
    waiter?.(line);
    nl = p.partial.indexOf('\n');
  }
  if (p.partial.length > 64 * 1024) p.partial = '';
}

/** Points the process at `configFiles`, sends SIGHUP and waits for its answer line, which must mean ready. */
async function reload(p: PooledProcess, configFiles: readonly string[], o: ReloadOptions): Promise<void> {
  await Promise.all(p.links.map((link, i) => point(link, configFiles[i]!)));
  const line = new Promise<string>((resolve) => (p.nextLine = resolve));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendError(`${o.where}: ${p.proc.label} did not answer a reload within ${o.timeoutMs} ms${tail(p.proc)}`)), o.timeoutMs);
  });
  const exited = p.proc.exited.then(() => {
    throw new BackendError(`${o.where}: ${p.proc.label} exited on a reload${tail(p.proc)}`);
  });
  signalLeader(p.proc, 'SIGHUP');
  try {
    const answer = await Promise.race([line, timeout, exited]);
    if (!o.ready(answer)) throw new BackendError(`${o.where}: ${p.proc.label} could not take the next scenario's config (${answer.slice(0, 200)})${tail(p.proc)}`);
  } finally {
    clearTimeout(timer);
    p.nextLine = undefined;
    exited.catch(() => {});
  }
}
