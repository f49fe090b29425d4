import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RunResult } from '../model/index.js';
import {
  createReporters,
  isReporterName,
  multiplexReporters,
  REPORTER_NAMES,
  writeAttachments,
  type ReporterName,
  type MultiplexedReporter,
  type ReporterOptions,
} from '../report/index.js';
import { UsageError } from '../util/errors.js';
import { removeOnExit } from '../util/private-dir.js';

export function parseReporters(list: string): ReporterName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError(`--reporter needs at least one of: ${REPORTER_NAMES.join(', ')}`);
  for (const n of names) {
    if (!isReporterName(n)) throw new UsageError(`unknown reporter "${n}": choose from ${REPORTER_NAMES.join(', ')}`);
  }
  return names as ReporterName[];
}

/** Reporters that print rather than write files: they run only once the files are complete and in place. */
const STREAM_REPORTERS: readonly ReporterName[] = ['console'];

/** All the run's reporters, plus the two halves writeOutputs calls in turn. */
export interface RunReporters extends MultiplexedReporter {
  readonly files: MultiplexedReporter;
  readonly stream: MultiplexedReporter;
}

export function openReporters(names: readonly ReporterName[], stream: NodeJS.WritableStream, options: Omit<ReporterOptions, 'stream'> = {}): RunReporters {
  const list = createReporters(names, { ...options, stream });
  const prints = (r: { name: string }) => (STREAM_REPORTERS as readonly string[]).includes(r.name);
  // One set of reporter instances: the halves share whatever the live hooks accumulated.
  return { ...multiplexReporters(list), files: multiplexReporters(list.filter((r) => !prints(r))), stream: multiplexReporters(list.filter(prints)) };
}

/** The link `<out>/latest`: meshconform's own is a symlink to a sibling run folder (`latest -> <run-id>`). */
export const LATEST = 'latest';
const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
/** What meshconform writes into a run folder; a `latest` folder holding only these is an older meshconform's copy. */
const REPORT_FILES = new Set(['report.json', 'junit.xml', 'index.html', 'conformance.yaml']);

/** Whose `<out>/latest` is: absent, meshconform's (a link to a run folder, or an older version's copy), or someone else's. */
async function latestOwner(outRoot: string): Promise<'none' | 'link' | 'legacy' | { foreign: string }> {
  const latest = join(outRoot, LATEST);
  const st = await lstat(latest).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return 'none';
  if (st.isSymbolicLink()) {
    const target = await readlink(latest);
    return RUN_ID.test(target) ? 'link' : { foreign: `a link to ${JSON.stringify(target)}, not to a run folder beside it` };
  }
  if (st.isDirectory()) {
    const entries = await readdir(latest);
    if (entries.length > 0 && entries.every((e) => REPORT_FILES.has(e))) return 'legacy';
    return { foreign: 'a folder meshconform did not make (it holds other files)' };
  }
  return { foreign: 'a file' };
}

function outProblem(out: string, err: NodeJS.ErrnoException): UsageError {
  const why =
    err.code === 'EEXIST' || err.code === 'ENOTDIR'
      ? 'is a file (or lies under one), not a folder'
      : err.code === 'EROFS'
        ? 'is on a read-only file system'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'is not writable (permission denied)'
          : err.code === 'ENOSPC' || err.code === 'EDQUOT'
            ? 'has no space left'
            : `cannot be written (${err.code ?? err.message})`;
  return new UsageError(`--out ${out} ${why}: choose a writable folder for the reports`);
}

/**
 * Checks `--out` before any work starts (exit 2, so no run's results are lost to a bad output folder): created if
 * missing, writable (a probe file is created and removed), and its `latest`, if any, meshconform's own.
 */
export async function prepareOutRoot(out: string): Promise<void> {
  try {
    await mkdir(out, { recursive: true });
    const st = await lstat(out).catch(() => undefined);
    // mkdir -p succeeds on an existing link to a folder; anything but a folder (through links) is refused here.
    if (st && !st.isDirectory() && !st.isSymbolicLink()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    const probe = join(out, `.meshconform-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
    const fh = await open(probe, 'wx');
    await fh.close();
    await rm(probe, { force: true });
  } catch (err) {
    throw outProblem(out, await whyNotWritable(out, err as NodeJS.ErrnoException));
  }
  const owner = await latestOwner(out);
  if (typeof owner === 'object') {
    throw new UsageError(
      `--out ${out}: ${join(out, LATEST)} is ${owner.foreign}; meshconform replaces ${LATEST} on every run, so it will not touch one it did not make. Move it away or choose another --out`,
    );
  }
}

/** The real reason a folder cannot be made: mkdir -p says ENOENT on a read-only file system, so ask the nearest existing parent. */
async function whyNotWritable(path: string, err: NodeJS.ErrnoException): Promise<NodeJS.ErrnoException> {
  if (err.code !== 'ENOENT') return err;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) return Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      return access(dir, constants.W_OK).then(
        () => err,
        (e: NodeJS.ErrnoException) => e,
      );
    }
    if (dirname(dir) === dir) return err;
  }
}

/**
 * Points `<outRoot>/latest` at the run folder: a new symlink renamed over the old one, which is atomic, so two runs
 * writing into one `--out` at once never collide; the one that renames last wins (lost-race-is-fine). An older
 * meshconform's `latest` copy is removed first; anything else that appeared there during the run is left alone.
 */
async function pointLatest(outRoot: string, runId: string): Promise<boolean> {
  const latest = join(outRoot, LATEST);
  const tmp = join(outRoot, `.latest-${runId}-${randomBytes(3).toString('hex')}.tmp`);
  const keep = removeOnExit(tmp);
  try {
    await symlink(runId, tmp);
    for (let attempt = 0; ; attempt++) {
      const owner = await latestOwner(outRoot);
      if (typeof owner === 'object') {
        process.stderr.write(`meshconform: warning: ${latest} is now ${owner.foreign}; left alone, so it does not show this run\n`);
        return false;
      }
      if (owner === 'legacy') await rm(latest, { recursive: true, force: true });
      try {
        await rename(tmp, latest);
        return true;
      } catch (err) {
        // Another writer put a folder back between our check and the rename: check again (bounded).
        const code = (err as NodeJS.ErrnoException).code;
        if (attempt >= 3 || (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw err;
      }
    }
  } finally {
    await rm(tmp, { force: true });
    keep();
  }
}

export interface WriteOutputsOptions {
  /** Once aborted, `latest` is no longer replaced (the run, or its report write, was interrupted). */
  readonly interrupt?: AbortSignal;
}

/**
 * Writes `<outRoot>/<run-id>/` whole or not at all: the scenarios' attachments (`evidence/<id>.txt|.json`) and the
 * file reporters' files go into a hidden staging folder that is renamed into place (and removed on every other path,
 * including a forced exit); only then do the console reporters print "report in …". Then `latest` is pointed at it, unless the run was interrupted.
 */
export async function writeOutputs(result: RunResult, reporter: RunReporters, outRoot: string, options: WriteOutputsOptions = {}): Promise<string> {
  const dir = join(outRoot, result.runId);
  const staging = join(outRoot, `.${result.runId}.partial`);
  const keep = removeOnExit(staging);
  try {
    await mkdir(staging, { recursive: true });
    await writeAttachments(result, staging);
    await reporter.files.onRunEnd(result, staging);
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
    keep();
  }
  await reporter.stream.onRunEnd(result, dir);
  if (result.interrupted === undefined && !options.interrupt?.aborted) await pointLatest(outRoot, result.runId);
  else if (result.interrupted === undefined) process.stderr.write(`meshconform: interrupted while writing the report: ${join(outRoot, LATEST)} not replaced\n`);
  return dir;
}

export { holdExit as holdExitForReport } from './lifecycle.js';
