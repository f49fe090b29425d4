import { performance } from 'node:perf_hooks';

/**
 * Watches the harness's own event loop while probes run. A probe that timed out while the loop was blocked for a
 * good part of its deadline says nothing about the data plane: the harness was starved, so it is an error, not a
 * denial.
 */
export interface LagMonitor {
  /** Longest stall of the event loop (ms) that overlapped [from, to] (performance.now() times). */
  maxStallBetween(from: number, to: number): number;
  stop(): void;
}

const TICK_MS = 10;
const KEEP = 4096;

export function startLagMonitor(): LagMonitor {
  // Each sample: when the late tick ran, and how long the loop was stalled before it.
  const at: number[] = [];
  const stall: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = now - last - TICK_MS;
    last = now;
    if (lag > TICK_MS) {
      at.push(now);
      stall.push(lag);
      if (at.length > KEEP) {
        at.shift();
        stall.shift();
      }
    }
  }, TICK_MS);
  timer.unref();
  return {
    maxStallBetween(from, to) {
      // A stall that ended after the probe ended is seen by the next tick, so look one tick past the end too.
      const current = performance.now() - last - TICK_MS;
      let max = current > TICK_MS && last < to ? current : 0;
      for (let i = at.length - 1; i >= 0; i--) {
        const end = at[i]!;
        const begin = end - stall[i]!;
        if (end < from) break;
        if (begin <= to + TICK_MS) max = Math.max(max, stall[i]!);
      }
      return max;
    },
    stop: () => clearInterval(timer),
  };
}
