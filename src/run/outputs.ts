import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from '../model/index.js';
import { createReporters, isReporterName, multiplexReporters, REPORTER_NAMES, type ReporterName, type MultiplexedReporter, type ReporterOptions } from '../report/index.js';
import { UsageError } from '../util/errors.js';

export function parseReporters(list: string): ReporterName[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--reporter needs at least one of: ${REPORTER_NAMES.join(', ')}`);
  for (const n of names) {
    if (!isReporterName(n)) throw new UsageError(`unknown reporter "${n}": choose from ${REPORTER_NAMES.join(', ')}`);
  }
  return names as ReporterName[];
}

export function openReporters(names: readonly ReporterName[], stream: NodeJS.WritableStream, options: Omit<ReporterOptions, 'stream'> = {}): MultiplexedReporter {
  return multiplexReporters(createReporters(names, { ...options, stream }));
}

/**
 * Writes `<outRoot>/<run-id>/` through the reporters, then replaces `<outRoot>/latest/` with a copy of it.
 * The copy is built beside `latest` and renamed into place, so `latest` is never half-written.
 */
export async function writeOutputs(result: RunResult, reporter: MultiplexedReporter, outRoot: string): Promise<string> {
  const dir = join(outRoot, result.runId);
  await mkdir(dir, { recursive: true });
  await reporter.onRunEnd(result, dir);
  const staging = join(outRoot, `.latest-${result.runId}`);
  const latest = join(outRoot, 'latest');
  const old = join(outRoot, `.latest-old-${result.runId}`);
  await cp(dir, staging, { recursive: true });
  await rename(latest, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(staging, latest);
  await rm(old, { recursive: true, force: true });
  return dir;
}
