import type { AgentBatchMessage, AgentDoneMessage, AgentObservationMessage, ProbeJob } from '../model/index.js';
import { runProbes, type ProbeContext } from '../probe/index.js';
import { checkTimeout } from './hello.js';
import { AgentProtocolError } from './protocol-error.js';

/** Jobs in one batch at the most (with MAX_LINE_BYTES, what bounds the agent's memory). */
export const MAX_JOBS = 200_000;

/** A `batch` message, checked: a non-empty id, at most MAX_JOBS jobs, each an object, no key twice. */
export function checkBatch(msg: Record<string, unknown>): AgentBatchMessage {
  const id = typeof msg['id'] === 'string' && msg['id'] !== '' ? msg['id'] : undefined;
  if (!id) throw new AgentProtocolError('a batch needs a non-empty string "id"');
  const jobs = msg['jobs'];
  if (!Array.isArray(jobs)) throw new AgentProtocolError(`batch ${id}: "jobs" must be an array`);
  if (jobs.length > MAX_JOBS) throw new AgentProtocolError(`batch ${id}: ${jobs.length} jobs; at most ${MAX_JOBS} per batch`);
  const seen = new Set<unknown>();
  jobs.forEach((job: unknown, i) => {
    // A job's observation is answered under its key: without an object there is nothing to answer under.
    if (typeof job !== 'object' || job === null || Array.isArray(job)) throw new AgentProtocolError(`batch ${id}: job ${i} is not an object`);
    const key = (job as { key?: unknown }).key;
    if (seen.has(key)) throw new AgentProtocolError(`batch ${id}: duplicate job key ${JSON.stringify(key)}`);
    seen.add(key);
  });
  const timeoutMs = msg['timeoutMs'];
  return { type: 'batch', id, jobs: jobs as ProbeJob[], ...(timeoutMs !== undefined ? { timeoutMs: checkTimeout(timeoutMs, `batch ${id}: timeoutMs`) } : {}) };
}

/**
 * Runs one batch with the host prober's own runProbes (its classification, and its rule that a timeout while this
 * process was starved is an error): one `observation` line a job as each finishes, then `done`. A job the probes
 * cannot run (an unknown client kind, a missing credential, a bad address) is an error observation, never a denial.
 */
export async function runBatch(
  batch: AgentBatchMessage,
  ctx: ProbeContext,
  settings: { readonly timeoutMs: number; readonly concurrency: number },
  emit: (message: AgentObservationMessage | AgentDoneMessage) => Promise<void>,
): Promise<void> {
  await runProbes(batch.jobs, ctx, {
    concurrency: settings.concurrency,
    timeoutMs: batch.timeoutMs ?? settings.timeoutMs,
    prober: 'the probe agent',
    onResult: (job, observation) => emit({ type: 'observation', batch: batch.id, key: String(job.key), observation }),
  });
  await emit({ type: 'done', batch: batch.id, count: batch.jobs.length });
}
