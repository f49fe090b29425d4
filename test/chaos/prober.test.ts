import { expect } from 'chai';
import { FOCUS_FACTOR, startProber } from '../../src/chaos/prober.js';
import type { ChaosCell } from '../../src/chaos/types.js';
import type { Observation, ProbeJob } from '../../src/model/index.js';

// The prober alone, with a probe that answers at once: what it fires, and when (real timers, counts with wide margins).
const cell = (i: number): ChaosCell => ({ key: `ns/w${i}|80|plaintext-tcp`, workload: `ns/w${i}`, port: 80, protocol: 'tcp', client: 'plaintext-tcp' });

function run(cells: readonly ChaosCell[], intervalMs: number) {
  const t0 = performance.now();
  const fired: { i: number; at: number }[] = [];
  const prober = startProber({
    cells,
    intervalMs,
    concurrency: 64,
    timeoutMs: 1000,
    now: () => performance.now() - t0,
    jobFor: (c) => ({ key: c.key }) as unknown as ProbeJob,
    credentialsFor: () => 'current',
    probe: async (job) => {
      fired.push({ i: cells.findIndex((c) => c.key === (job as unknown as { key: string }).key), at: performance.now() - t0 });
      return { status: 'denied', how: 'reset', timings: { startedAt: Date.now(), totalMs: 0 }, attempts: 1 } as unknown as Observation;
    },
  });
  return { prober, fired, now: () => performance.now() - t0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos prober: focus on transitions', function () {
  this.timeout(10_000);

  it('a focused cell is probed about FOCUS_FACTOR times as often as the others until its focus ends; then as before', async () => {
    const cells = [cell(0), cell(1)];
    const { prober, fired, now } = run(cells, 100);
    await sleep(50);
    prober.focus([0], now() + 400);
    await sleep(400);
    const during = { focused: fired.filter((f) => f.i === 0).length, other: fired.filter((f) => f.i === 1).length };
    const mark = fired.length;
    await sleep(400);
    await prober.stop();
    const after = fired.slice(mark);
    // Over 450 ms: the other cell ~5 ticks; the focused one its ~5 plus ~16 focus ticks (a loaded machine drops some,
    // never adds any).
    expect(during.focused, JSON.stringify(during)).to.be.greaterThan(during.other);
    expect(prober.focused)
      .to.be.greaterThan(1)
      .and.at.most(Math.ceil((400 / 100) * FOCUS_FACTOR) + 2);
    // After the focus both cells are back to one probe per interval.
    const a0 = after.filter((f) => f.i === 0).length;
    const a1 = after.filter((f) => f.i === 1).length;
    expect(Math.abs(a0 - a1), JSON.stringify({ a0, a1 })).to.be.at.most(1);
  });

  it('focus after stop fires nothing', async () => {
    const { prober, fired, now } = run([cell(0)], 100);
    await prober.stop();
    const n = fired.length;
    prober.focus([0], now() + 500);
    await sleep(150);
    expect(fired.length).to.equal(n);
    expect(prober.focused).to.equal(0);
  });
});
