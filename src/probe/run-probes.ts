import type { CellKey, Observation, ProbeJob } from '../model/index.js';
import { ProbeError } from '../util/errors.js';
import type { ProbeContext } from './probe-context.js';
import { assertTimeout, runProbe } from './run-probe.js';
import { startLagMonitor } from './event-loop-lag.js';
import { performance } from 'node:perf_hooks';

/** A timeout counts as a denial only if the harness's event loop was not stalled for this share of the deadline. */
const STARVED_SHARE = 0.25;

export interface RunProbesOptions {
  /** Probes in flight at once (each holds one socket). */
  readonly concurrency: number;
  readonly timeoutMs: number;
  /**
   * Called as each probe finishes (progress); its worker waits for a returned promise (back-pressure). If it throws
   * or rejects, no new probe starts and `runProbes` rejects.
   */
  readonly onResult?: (job: ProbeJob, observation: Observation) => void | Promise<void>;
  /** Who fires the probes, as a starved timeout's message names it; `the harness` unless given. */
  readonly prober?: string;
  /**
   * The run's interrupt: once aborted no probe starts, and the probes in flight are given up at once (their sockets
   * close at their own deadline). Jobs without an observation are absent from the result.
   */
  readonly signal?: AbortSignal;
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
  const lag = startLagMonitor();
  const signal = options.signal;
  let onAbort = () => {};
  const aborted = new Promise<undefined>((resolve) => (onAbort = () => resolve(undefined)));
  if (signal?.aborted) onAbort();
  // Removed when done: runs and chaos call this once per probe, and listeners would pile up on the run's signal.
  else signal?.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    while (callbackFailure === undefined && next < jobs.length && !signal?.aborted) {
      const job = jobs[next++]!;
      const t0 = performance.now();
      const done = runProbe(job, ctx, { timeoutMs: options.timeoutMs });
      // A probe given up on must not surface later as an unhandled rejection.
      if (signal) done.catch(() => {});
      const raced = signal ? await Promise.race([done, aborted]) : await done;
      if (raced === undefined) return;
      let obs = raced;
      if (obs.status === 'denied' && obs.how === 'timeout') {
        const stalled = lag.maxStallBetween(t0, performance.now());
        if (stalled >= options.timeoutMs * STARVED_SHARE) {
          obs = {
            status: 'error',
            message: `timed out while ${options.prober ?? 'the harness'} itself was starved (its event loop stalled ${Math.round(stalled)} ms of a ${options.timeoutMs} ms deadline): not evidence of a denial`,
            timings: obs.timings,
            attempts: obs.attempts,
            ...(obs.tls ? { tls: obs.tls } : {}),
            ...(obs.mx ? { mx: obs.mx } : {}),
            ...(obs.wire ? { wire: obs.wire } : {}),
          };
        }
      }
      results.set(job.key, obs);
      try {
        await options.onResult?.(job, obs);
      } catch (error) {
        callbackFailure ??= { error };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, jobs.length) }, worker));
  } finally {
    lag.stop();
    signal?.removeEventListener('abort', onAbort);
  }
  if (callbackFailure) throw new ProbeError('probe result callback failed', { cause: callbackFailure.error });
  return results;
}
