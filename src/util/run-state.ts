import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What a meshconform process holds on this host, recorded as it happens so `meshconform reap` can remove it after
 * a crash or `kill -9`: the process groups it started (data planes, echo apps, with the start time of their leader,
 * so a reused id is never killed) and the temporary folders it created (keys, configs). One file per process,
 * `<state dir>/<pid>.json`, rewritten synchronously at every change (see `save`), deleted once nothing is held.
 */
export interface RunStateFile {
  readonly version: 1;
  readonly pid: number;
  /** Start time of `pid` (clock ticks since boot, /proc/<pid>/stat): tells the owner from a process that reused its id. */
  readonly pidStart: number | undefined;
  runId?: string;
  groups: { pgid: number; label: string; leaderStart: number | undefined }[];
  dirs: string[];
}

/** The folder of run-state files: MESHCONFORM_STATE_DIR, else /run/meshconform as root, else a per-user folder. */
export function stateDir(): string {
  const set = process.env['MESHCONFORM_STATE_DIR'];
  if (set) return set;
  const uid = process.getuid?.();
  if (uid === 0) return '/run/meshconform';
  const runtime = process.env['XDG_RUNTIME_DIR'];
  return runtime ? join(runtime, 'meshconform') : join(tmpdir(), `meshconform-state-${uid ?? 'user'}`);
}

/** Start time of a process in clock ticks since boot; undefined when it does not exist (or /proc is unavailable). */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

let state: RunStateFile | undefined;
let file: string | undefined;
/** The open state file and the longest text written to it, in bytes (later, shorter texts are padded to it). */
let open: { path: string; fd: number; length: number } | undefined;
let hook = false;

function current(): RunStateFile {
  state ??= { version: 1, pid: process.pid, pidStart: processStartTime(process.pid), groups: [], dirs: [] };
  if (!hook) {
    hook = true;
    // Exit hooks of the process groups and private folders run first (registered earlier); then nothing is held.
    process.once('exit', () => {
      if (file) rmSync(file, { force: true });
    });
  }
  return state;
}

/**
 * Rewrites the file in place, synchronously (recorded before the caller goes on, so a kill -9 right after a start
 * never orphans what started), with one write at offset 0 of the whole text padded with spaces to the longest one
 * written so far: one syscall, never a torn or truncated file (JSON allows trailing whitespace). Not a rename or a
 * truncation: on ext4 either forces a flush to disk, which blocked the event loop for milliseconds per process start.
 */
function save(): void {
  const s = current();
  try {
    const dir = stateDir();
    file = join(dir, `${process.pid}.json`);
    if (s.groups.length === 0 && s.dirs.length === 0) {
      if (open) closeSync(open.fd);
      open = undefined;
      rmSync(file, { force: true });
      return;
    }
    if (open?.path !== file) {
      if (open) closeSync(open.fd);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      open = { path: file, fd: openSync(file, 'w', 0o600), length: 0 };
    }
    const json = Buffer.from(JSON.stringify(s));
    const bytes = json.length >= open.length ? json : Buffer.concat([json, Buffer.alloc(open.length - json.length, 0x20)]);
    writeSync(open.fd, bytes, 0, bytes.length, 0);
    open.length = bytes.length;
  } catch (err) {
    // Recording is for `reap` only: a run must not fail for it, but the user should know reap cannot help.
    if (!warned) process.stderr.write(`meshconform: cannot record run state in ${stateDir()} (reap will not find this run): ${(err as Error).message}\n`);
    warned = true;
  }
}
let warned = false;

/** Labels this process's record with its run id (`reap --run`). */
export function recordRunId(runId: string): void {
  current().runId = runId;
  if (state!.groups.length > 0 || state!.dirs.length > 0) save();
}

/** Records a process group; the returned function forgets it (once the group is gone). */
export function recordGroup(pgid: number, label: string): () => void {
  const entry = { pgid, label, leaderStart: processStartTime(pgid) };
  current().groups.push(entry);
  save();
  return () => {
    const i = state!.groups.indexOf(entry);
    if (i >= 0) {
      state!.groups.splice(i, 1);
      save();
    }
  };
}

/** Records a temporary folder; the returned function forgets it (once removed). */
export function recordDir(path: string): () => void {
  current().dirs.push(path);
  save();
  return () => {
    const i = state!.dirs.indexOf(path);
    if (i >= 0) {
      state!.dirs.splice(i, 1);
      save();
    }
  };
}

/** Every run-state file in the state folder (unreadable ones are named, not fatal). */
export function readRunStates(): { file: string; state?: RunStateFile; problem?: string }[] {
  const dir = stateDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => {
      const f = join(dir, n);
      try {
        return { file: f, state: JSON.parse(readFileSync(f, 'utf8')) as RunStateFile };
      } catch (err) {
        return { file: f, problem: (err as Error).message };
      }
    });
}

export function removeRunStateFile(f: string): void {
  try {
    unlinkSync(f);
  } catch {
    // already gone
  }
}
