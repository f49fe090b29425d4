import type { Reporter } from './reporter.js';

export interface MultiplexedReporter extends Reporter {
  /** "reporter X failed: …" for every hook that threw or rejected, in order. */
  readonly warnings: readonly string[];
}

type Hook = 'onRunStart' | 'onScenarioStart' | 'onCellResult' | 'onScenarioEnd' | 'onRunEnd';

const defaultWarn = (message: string): void => {
  process.stderr.write(`meshconform: warning: ${message}\n`);
};

/**
 * One reporter that calls every reporter in `list` for each event. A reporter that throws or rejects is contained:
 * the failure becomes a warning and the other reporters (and the run) carry on. The returned promises never reject.
 */
export function multiplexReporters(list: readonly Reporter[], options: { readonly onWarning?: (message: string) => void } = {}): MultiplexedReporter {
  const warnings: string[] = [];
  const warn = options.onWarning ?? defaultWarn;

  const fail = (r: Reporter, hook: Hook, err: unknown): void => {
    const message = `reporter ${r.name} failed: ${err instanceof Error ? err.message : String(err)} (in ${hook})`;
    warnings.push(message);
    try {
      warn(message);
    } catch {
      // A broken warning sink must not break the run either.
    }
  };

  // Every reporter's synchronous part runs before any awaits, so live output keeps event order.
  const fanOut = async (hook: Hook, call: (r: Reporter) => void | Promise<void>): Promise<void> => {
    const pending: Promise<void>[] = [];
    for (const r of list) {
      try {
        const p = call(r);
        if (p && typeof p.then === 'function') pending.push(p.then(undefined, (err: unknown) => fail(r, hook, err)));
      } catch (err) {
        fail(r, hook, err);
      }
    }
    await Promise.all(pending);
  };

  return {
    name: 'multiplex',
    warnings,
    onRunStart: (e) => fanOut('onRunStart', (r) => r.onRunStart?.(e)),
    onScenarioStart: (e) => fanOut('onScenarioStart', (r) => r.onScenarioStart?.(e)),
    onCellResult: (c) => fanOut('onCellResult', (r) => r.onCellResult?.(c)),
    onScenarioEnd: (s) => fanOut('onScenarioEnd', (r) => r.onScenarioEnd?.(s)),
    onRunEnd: (result, outDir) => fanOut('onRunEnd', (r) => r.onRunEnd(result, outDir)),
  };
}
