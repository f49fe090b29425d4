import type { ChaosCell, Credentials, ProbeRecord } from './types.js';
import type { Observation, ProbeJob } from '../model/index.js';

/** Probes of one cell in flight at once at most (several only while each takes longer than the interval). */
export const MAX_IN_FLIGHT_PER_CELL = 4;

/**
 * A focused cell is probed this many times more often: a transition (a fault landing or ending, a reload) is where a
 * fail-open window opens, and one shorter than the interval is otherwise caught only by a punctual tick.
 */
export const FOCUS_FACTOR = 4;

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
  /** Probes fired by focus ticks (also in `records`). */
  readonly focused: number;
  /** Probes these cells (indices into `cells`) FOCUS_FACTOR times as often as the others until `untilMs`. */
  focus(cells: readonly number[], untilMs: number): void;
  /** Stops firing and waits for the probes in flight. */
  stop(): Promise<void>;
}

/**
 * Probes every cell once per interval, each over a new connection. The cells' ticks are spread evenly over the
 * interval (cell i fires at i/N of it), so the load is smooth and every cell keeps its own fixed period. A cell with
 * MAX_IN_FLIGHT_PER_CELL probes still running skips its tick (a blackhole holds probes until their deadline), and so
 * does every tick while `concurrency` probes are in flight; both are counted. Ticks missed because the event loop was late are
 * not fired late in a burst: the schedule moves on.
 */
export function startProber(o: ProberOptions): Prober {
  const n = o.cells.length;
  const slotMs = n > 0 ? o.intervalMs / n : o.intervalMs;
  const records: ProbeRecord[] = [];
  // A slow probe must not thin out its cell's schedule: a few may overlap; more means the cell is stuck (a blackhole).
  const perCell = Math.max(1, Math.min(MAX_IN_FLIGHT_PER_CELL, Math.ceil(o.timeoutMs / o.intervalMs)));
  const busy = new Map<number, number>();
  const inFlight = new Set<Promise<void>>();
  let skippedBusy = 0;
  let skippedSaturated = 0;
  let focused = 0;
  let k = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const fire = (i: number): boolean => {
    const cell = o.cells[i]!;
    if ((busy.get(i) ?? 0) >= perCell) {
      skippedBusy++;
      return false;
    }
    if (inFlight.size >= o.concurrency) {
      skippedSaturated++;
      return false;
    }
    busy.set(i, (busy.get(i) ?? 0) + 1);
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
        busy.set(i, busy.get(i)! - 1);
        inFlight.delete(p);
      });
    inFlight.add(p);
    return true;
  };
  const focus = startFocus(
    o,
    () => stopped,
    (i) => {
      if (fire(i)) focused++;
    },
  );

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
    get focused() {
      return focused;
    },
    focus: focus.add,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      focus.stop();
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}

/**
 * The focus ticks: the focused cells in turn, each once per interval / FOCUS_FACTOR, on top of the regular ticks. A
 * late event loop fires what fell due since the last tick, each focused cell once at most (no burst beyond that).
 */
function startFocus(o: ProberOptions, stopped: () => boolean, fire: (i: number) => void): { add(cells: readonly number[], untilMs: number): void; stop(): void } {
  const until = new Map<number, number>();
  let timer: NodeJS.Timeout | undefined;
  let turn = 0;
  let last = 0;
  const tick = () => {
    timer = undefined;
    const t = o.now();
    for (const [i, u] of until) if (u <= t) until.delete(i);
    if (stopped() || until.size === 0) return;
    const active = [...until.keys()];
    const slotMs = o.intervalMs / FOCUS_FACTOR / active.length;
    const due = Math.min(active.length, Math.max(1, Math.floor((t - last) / slotMs)));
    for (let j = 0; j < due; j++) fire(active[turn++ % active.length]!);
    last = t;
    timer = setTimeout(tick, slotMs);
  };
  return {
    add(cells, untilMs) {
      for (const i of cells) until.set(i, Math.max(until.get(i) ?? 0, untilMs));
      if (timer === undefined && !stopped()) {
        last = o.now();
        tick();
      }
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      until.clear();
    },
  };
}
