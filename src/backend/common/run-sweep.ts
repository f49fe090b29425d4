import { BackendError } from '../../util/errors.js';

/** How long a run-wide removal waits for starts in flight before its second sweep. */
const INFLIGHT_WAIT_MS = 30_000;

/**
 * The run-wide clean-up of backends whose environments outlive a forced exit (namespaces, containers): once a run is
 * closed no environment of it starts, and its removal sweeps again after the starts in flight, which may create
 * something after the first sweep.
 */
export interface RunSweep {
  /** Runs `start` unless `runId` is closed, tracked for `removeRun`. */
  start<T>(runId: string, start: () => Promise<T>): Promise<T>;
  closed(runId: string): boolean;
  /** From now on no environment of `runId` starts. Synchronous, for signal handlers. */
  closeRun(runId: string): void;
  /** closeRun, then `sweep`, and `sweep` again once the starts in flight settled (bounded). */
  removeRun(runId: string, sweep: () => Promise<void>): Promise<void>;
}

export function createRunSweep(): RunSweep {
  const closing = new Set<string>();
  const inflight = new Map<string, Set<Promise<unknown>>>();
  return {
    start(runId, start) {
      if (closing.has(runId)) return Promise.reject(new BackendError(`run ${runId} is being cleaned up; no new environment starts`));
      const set = inflight.get(runId) ?? new Set();
      inflight.set(runId, set);
      const p = start();
      set.add(p);
      return p.finally(() => set.delete(p));
    },
    closed: (runId) => closing.has(runId),
    closeRun(runId) {
      closing.add(runId);
    },
    async removeRun(runId, sweep) {
      closing.add(runId);
      await sweep();
      const pending = [...(inflight.get(runId) ?? [])];
      if (pending.length === 0) return;
      await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, INFLIGHT_WAIT_MS).unref())]);
      await sweep();
    },
  };
}
