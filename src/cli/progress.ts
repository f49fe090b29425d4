import cliProgress from 'cli-progress';
import type { RunHooks } from '../run/pipeline.js';

/** Live progress: a bar on a TTY, one plain line per finished scenario otherwise. */
export function createProgress(out: NodeJS.WritableStream): { hooks: RunHooks; stop(): void } {
  const tty = (out as NodeJS.WriteStream).isTTY === true && !process.env.CI;
  let total = 0;
  let done = 0;
  let scenarios = 0;
  let finished = 0;
  if (tty) {
    const bar = new cliProgress.SingleBar(
      { stream: out as NodeJS.WriteStream, format: ' {bar} {value}/{total} cells | {scenarios} scenarios | {last}', hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
    return {
      hooks: {
        onRunStart(i) {
          total = i.cells;
          scenarios = i.scenarios;
          bar.start(total, 0, { scenarios: `0/${scenarios}`, last: '' });
        },
        onScenarioEnd(r) {
          done += r.cells.length;
          finished++;
          bar.update(done, { scenarios: `${finished}/${scenarios}`, last: r.name });
        },
      },
      stop: () => bar.stop(),
    };
  }
  return {
    hooks: {
      onRunStart(i) {
        scenarios = i.scenarios;
        out.write(`meshconform: run ${i.runId}: ${i.scenarios} scenario run(s), ${i.cells} cells\n`);
      },
      onScenarioEnd(r) {
        finished++;
        const s = r.summary;
        const state = r.skipped
          ? `skipped (${r.skipped})`
          : `${s.passed}/${s.cells} passed${s.failed ? `, ${s.failed} failed` : ''}${s.flaky ? `, ${s.flaky} flaky` : ''}${s.errors ? `, ${s.errors} errors` : ''}`;
        out.write(`[${finished}/${scenarios}] ${r.feature}/${r.name} (${r.meshMode}): ${state} in ${r.durationMs} ms\n`);
      },
    },
    stop: () => {},
  };
}
