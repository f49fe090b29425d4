import type { ChaosCell, Credentials, ProbeRecord } from './types.js';
import type { Observation, ProbeJob } from '../model/index.js';

export interface ProberOptions {
  readonly cells: readonly ChaosCell[];
  readonly intervalMs: number;
  /** Probes in flight at most (a tick finding this many skips its cell). */
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Milliseconds since t = 0. */
  now(): number;
  /** Where the cell is probed right now (a fault proxy may sit in front of its workload). */
  jobFor(cell: ChaosCell): ProbeJob;
  credentialsFor(cell: ChaosCell, atMs: number): Credentials;
  probe(job: ProbeJob, options: { readonly timeoutMs: number; readonly credentials: Credentials }): Promise<Observation>;
}

export interface Prober {
  readonly records: readonly ProbeRecord[];
  readonly skippedBusy: number;
  readonly skippedSaturated: number;
  /** Stops firing and waits for the probes in flight. */
  stop(): Promise<void>;
}

/**
 * Probes every cell once per interval, each over a new connection. The cells' ticks are spread evenly over the
 * interval (cell i fires at i/N of it), so the load is smooth and every cell keeps its own fixed period. A cell whose
 * previous probe is still running skips its tick (a blackhole holds a probe until its deadline), and so does every
 * tick while `concurrency` probes are in flight; both are counted. Ticks missed because the event loop was late are
 * not fired late in a burst: the schedule moves on.
 */
export function startProber(o: ProberOptions): Prober {
  const n = o.cells.length;
  const slotMs = n > 0 ? o.intervalMs / n : o.intervalMs;
  const records: ProbeRecord[] = [];
  const busy = new Set<number>();
  const inFlight = new Set<Promise<void>>();
  let skippedBusy = 0;
  let skippedSaturated = 0;
  let k = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const fire = (i: number) => {
    const cell = o.cells[i]!;
    if (busy.has(i)) {
      skippedBusy++;
      return;
    }
    if (inFlight.size >= o.concurrency) {
      skippedSaturated++;
      return;
    }
    busy.add(i);
    const startMs = o.now();
    const credentials = o.credentialsFor(cell, startMs);
    const p = o
      .probe(o.jobFor(cell), { timeoutMs: o.timeoutMs, credentials })
      .then((obs) => {
        records.push({ cell, startMs, endMs: o.now(), obs, credentials });
      })
      .catch((err: unknown) => {
        const obs: Observation = { status: 'error', message: `probe failed: ${(err as Error).message}`, timings: { startedAt: Date.now(), totalMs: 0 }, attempts: 1 };
        records.push({ cell, startMs, endMs: o.now(), obs, credentials });
      })
      .finally(() => {
        busy.delete(i);
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  const tick = () => {
    if (stopped || n === 0) return;
    const t = o.now();
    // Ticks more than one interval late are dropped, not fired in a burst.
    const lateLimit = Math.floor((t - o.intervalMs) / slotMs);
    if (k < lateLimit) k = lateLimit;
    while (k * slotMs <= t) {
      fire(k % n);
      k++;
    }
    timer = setTimeout(tick, Math.max(0, k * slotMs - o.now()));
  };
  tick();

  return {
    records,
    get skippedBusy() {
      return skippedBusy;
    },
    get skippedSaturated() {
      return skippedSaturated;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
