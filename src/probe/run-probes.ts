import type { CellKey, Observation, ProbeJob } from '../model/index.js';
import { ProbeError } from '../util/errors.js';
import type { ProbeContext } from './probe-context.js';
import { assertTimeout, runProbe } from './run-probe.js';

export interface RunProbesOptions {
  /** Probes in flight at once (each holds one socket). */
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Called as each probe finishes (progress). If it throws, no new probe starts and `runProbes` rejects. */
  readonly onResult?: (job: ProbeJob, observation: Observation) => void;
}

/** Runs every job with at most `concurrency` in flight; one observation per job key. */
export async function runProbes(jobs: readonly ProbeJob[], ctx: ProbeContext, options: RunProbesOptions): Promise<Map<CellKey, Observation>> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new ProbeError(`probe concurrency must be a positive integer, got ${options.concurrency}`);
  }
  assertTimeout(options.timeoutMs);
  const seen = new Set<CellKey>();
  for (const job of jobs) {
    if (seen.has(job.key)) throw new ProbeError(`duplicate probe job key "${job.key}"`);
    seen.add(job.key);
  }

  const results = new Map<CellKey, Observation>();
  let next = 0;
  let callbackFailure: { error: unknown } | undefined;
  const worker = async () => {
    while (callbackFailure === undefined && next < jobs.length) {
      const job = jobs[next++]!;
      const obs = await runProbe(job, ctx, { timeoutMs: options.timeoutMs });
      results.set(job.key, obs);
      try {
        options.onResult?.(job, obs);
      } catch (error) {
        callbackFailure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, jobs.length) }, worker));
  if (callbackFailure) throw new ProbeError('probe result callback failed', { cause: callbackFailure.error });
  return results;
}
