import { expect } from 'chai';
import type { CellResult, RunResult } from '../model/index.js';
import { loadScenarios } from '../scenario/index.js';
import { expectations } from '../oracle/index.js';
import { createLocalBackend } from '../backend/local/index.js';
import { runSuite } from '../run/pipeline.js';
import { echoArgv, resolveDataPlane } from '../run/data-plane.js';
import { describeCell } from './describe-cell.js';

export interface MeshconformSuiteOptions {
  /** `reference` (default) or `exec:<command>`. */
  readonly dataPlane?: string;
  readonly grep?: string;
  readonly retries?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly readyTimeoutMs?: number;
  readonly parallel?: number;
  /** Loopback /16 for the local backend, e.g. `127.77`. */
  readonly localSubnet?: string;
  /** Title of the outer `describe`. */
  readonly title?: string;
}

/**
 * Turns scenario folders into mocha suites: one `describe` per scenario, one `it` per cell. The probes run once,
 * concurrently, in a `before` hook; each `it` then asserts its cell's verdict with a readable message. Call it at the
 * top level of an ESM spec file (it awaits the scenario loading so the `it`s exist when mocha collects them).
 */
export async function meshconformSuites(paths: readonly string[], options: MeshconformSuiteOptions = {}): Promise<void> {
  const scenarios = await loadScenarios(paths, options.grep !== undefined ? { grep: options.grep } : {});
  const dataPlane = resolveDataPlane(options.dataPlane ?? 'reference');
  describe(options.title ?? `meshconform (${dataPlane.name})`, function () {
    let result: RunResult | undefined;
    let failure: unknown;
    const cells = new Map<string, CellResult>();
    before(async function () {
      this.timeout(0);
      try {
        result = await runSuite({
          scenarios,
          paths,
          backend: createLocalBackend(options.localSubnet !== undefined ? { subnet: options.localSubnet } : {}),
          dataPlane,
          echoArgv: echoArgv(),
          retries: options.retries ?? 1,
          concurrency: options.concurrency ?? 32,
          timeoutMs: options.timeoutMs ?? 3000,
          readyTimeoutMs: options.readyTimeoutMs ?? 15000,
          parallelScenarios: options.parallel ?? 4,
        });
        for (const c of result.scenarios.flatMap((s) => s.cells)) cells.set(c.key, c);
      } catch (err) {
        failure = err;
      }
    });
    for (const s of scenarios) {
      const modes = s.mode === 'both' ? (['sidecar', 'ambient'] as const) : [s.mode];
      for (const m of modes) {
        describe(`${s.name} [${m}]`, function () {
          // A mode the data plane does not implement is skipped as a whole, with the run's reason.
          const unitSkipped = () => result?.scenarios.find((r) => r.name === s.name && r.meshMode === m)?.skipped;
          beforeEach(function () {
            if (unitSkipped() !== undefined) this.skip();
          });
          it('scenario expectations agree with the oracle (lint)', function () {
            const lint = result?.scenarios.find((r) => r.name === s.name && r.meshMode === m)?.lint ?? [];
            expect(
              lint.map((l) => `${l.file}:${l.line}:${l.column}: ${l.message}`),
              'scenario lint errors',
            ).to.deep.equal([]);
          });
          for (const e of expectations(s, m)) {
            it(`${e.workload}:${e.port} › ${e.client} → ${e.outcome} (${e.mode})`, function () {
              if (failure !== undefined) throw failure;
              const cell = cells.get(e.key);
              expect(cell, `no result for ${e.key}`).to.not.equal(undefined);
              if (cell!.verdict === 'skipped') this.skip();
              expect(cell!.verdict, describeCell(cell!)).to.be.oneOf(['pass', 'flaky']);
            });
          }
        });
      }
    }
  });
}
