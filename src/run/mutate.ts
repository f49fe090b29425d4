import type { CellResult, Claim, RunResult, Scenario } from '../model/index.js';
import { createLocalBackend } from '../backend/local/index.js';
import { createMeshPki, type MeshPki } from '../pki/index.js';
import { MeshconformError } from '../util/errors.js';
import { echoArgv, resolveDataPlane } from './data-plane.js';
import type { DefectInfo } from './reference-defects.js';
import { newRunId, runSuite, type RunHooks } from './pipeline.js';

/** How the suite did against one planted defect. `error`: the harness could not judge it (never counted as caught). */
export type DefectStatus = 'caught' | 'survived' | 'error';

export interface DefectResult {
  readonly defect: DefectInfo;
  readonly status: DefectStatus;
  /** The cells that failed (the mesh disagreed with the spec): what caught the defect. */
  readonly caughtBy: readonly CellResult[];
  /** Why the status is `error`: the run's harness error, or how many cells could not be probed. */
  readonly error?: string;
  readonly durationMs: number;
  /**
   * Every scenario of the suite ran, so `caughtBy` is every failing cell. False when the run stopped at its first
   * failing cell (the default) before the suite's end: `caughtBy` then holds the failing cells of the scenarios that ran.
   */
  readonly complete: boolean;
  /** Absent when the run could not start at all. */
  readonly run?: RunResult;
}

export interface MutationResult {
  /** The suite on the reference without any defect; the defects are judged only after it passed. */
  readonly baseline: RunResult;
  readonly baselineProblem?: string;
  readonly defects: readonly DefectResult[];
  readonly caught: number;
  readonly planted: number;
  readonly durationMs: number;
}

export interface MutateOptions {
  readonly scenarios: readonly Scenario[];
  readonly paths: readonly string[];
  readonly defects: readonly DefectInfo[];
  /** The claim every run is judged under (the baseline must pass it; a defect is caught when a cell fails under it). */
  readonly claim: Claim;
  /** Defect runs going on at the same time, each on its own loopback /16. */
  readonly parallelDefects: number;
  /** Second octet of the baseline's loopback /16 (127.<n>); defect run i uses 127.<n+1+i>. */
  readonly firstSubnet: number;
  readonly retries: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly readyTimeoutMs: number;
  readonly parallelScenarios: number;
  readonly workloadsPerProcess: number;
  /**
   * Run each defect's whole suite and keep every failing cell (`--all-failures`). Otherwise a defect's run starts no
   * further scenario once a cell has failed: the score needs only caught or not.
   */
  readonly allFailures: boolean;
  readonly onBaselineEnd?: (run: RunResult) => void;
  readonly onDefectEnd?: (result: DefectResult) => void;
}

/** Loopback /16s a mutation run needs: the baseline's plus one per defect. */
export function subnetsNeeded(defects: number): number {
  return defects + 1;
}

/**
 * Mutation testing of the suite: run it on the reference data plane without defects (it must pass), then once per
 * planted defect. A defect is caught when at least one cell fails; a run with harness errors is `error`, never caught.
 */
export async function mutate(o: MutateOptions): Promise<MutationResult> {
  const t0 = Date.now();
  if (o.firstSubnet + subnetsNeeded(o.defects.length) - 1 > 254) {
    throw new MeshconformError(`mutate needs ${subnetsNeeded(o.defects.length)} loopback /16s from 127.${o.firstSubnet}: choose a lower --local-subnet`);
  }
  // One PKI per trust domain for every run: its CA key generation would otherwise stall the probes of parallel runs.
  const pkis = new Map<string, MeshPki>();
  const pkiFor = (trustDomain: string): MeshPki => {
    let pki = pkis.get(trustDomain);
    if (!pki) pkis.set(trustDomain, (pki = createMeshPki({ trustDomain })));
    return pki;
  };
  for (const td of new Set(o.scenarios.map((s) => s.trustDomain))) pkiFor(td);

  /** One suite run; with `stop`, the first failing cell aborts it (the scenarios already running still finish). */
  const runWith: RunWith = (defects, subnet, stop) =>
    runSuite({
      scenarios: o.scenarios,
      paths: o.paths,
      backend: createLocalBackend({ subnet: `127.${subnet}` }),
      dataPlane: resolveDataPlane('reference', o.workloadsPerProcess, defects),
      echoArgv: echoArgv(),
      retries: o.retries,
      concurrency: o.concurrency,
      timeoutMs: o.timeoutMs,
      readyTimeoutMs: o.readyTimeoutMs,
      parallelScenarios: o.parallelScenarios,
      // Chaos scenarios start only once the static ones caught nothing (a caught defect stops the run first).
      staticFirst: true,
      runId: newRunId(),
      pkiFor,
      claim: o.claim,
      ...(stop ? { stop: stop.signal, hooks: stop.hooks } : {}),
    });

  const baseline = await runWith([], o.firstSubnet);
  o.onBaselineEnd?.(baseline);
  const baselineProblem = describeBaselineProblem(baseline);
  if (baselineProblem !== undefined) {
    return { baseline, baselineProblem, defects: [], caught: 0, planted: o.defects.length, durationMs: Date.now() - t0 };
  }

  const results: DefectResult[] = new Array(o.defects.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.defects.length) {
      const i = next++;
      const result = await runDefect(o, runWith, o.defects[i]!, o.firstSubnet + 1 + i);
      results[i] = result;
      o.onDefectEnd?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallelDefects, o.defects.length)) }, worker));
  return {
    baseline,
    defects: results,
    caught: results.filter((r) => r.status === 'caught').length,
    planted: o.defects.length,
    durationMs: Date.now() - t0,
  };
}

type RunWith = (defects: readonly string[], subnet: number, stop?: StopAtFirstFailure) => Promise<RunResult>;

/**
 * One defect's run of the whole suite. By default it stops at its first failing (or unprobeable) cell: no scenario
 * starts after it, and the pipeline starts the chaos scenarios, which probe for fixed durations, only after every
 * static one, so a defect a static cell catches never waits for them.
 */
async function runDefect(o: MutateOptions, runWith: RunWith, defect: DefectInfo, subnet: number): Promise<DefectResult> {
  const started = Date.now();
  try {
    if (o.allFailures) return judgeDefect(defect, await runWith([defect.name], subnet), Date.now() - started, true);
    const stop = stopAtFirstFailure();
    const run = await runWith([defect.name], subnet, stop);
    return judgeDefect(defect, run, Date.now() - started, run.scenarios.length >= stop.planned());
  } catch (err) {
    return { defect, status: 'error', caughtBy: [], error: (err as Error).message, durationMs: Date.now() - started, complete: false };
  }
}

interface StopAtFirstFailure {
  readonly signal: AbortSignal;
  readonly hooks: RunHooks;
  /** Scenario runs the suite planned (known once the run started). */
  readonly planned: () => number;
}

/** Aborts at the first failing or error cell: no scenario starts after it. Cells reach the hook as each scenario settles. */
function stopAtFirstFailure(): StopAtFirstFailure {
  const stop = new AbortController();
  let planned = Number.POSITIVE_INFINITY;
  return {
    signal: stop.signal,
    planned: () => planned,
    hooks: {
      onRunStart: (info) => void (planned = info.scenarios),
      onCellResult: (c) => void ((c.verdict === 'fail' || c.verdict === 'error') && stop.abort()),
    },
  };
}

/** Why a baseline run cannot anchor mutation testing, or undefined when every cell passed. */
function describeBaselineProblem(r: RunResult): string | undefined {
  const s = r.summary;
  if (s.errors > 0) return `${s.errors} cell(s) could not be probed`;
  if (s.failed > 0 || s.flaky > 0) return `${s.failed + s.flaky} cell(s) failed or were flaky`;
  if (r.lintErrors > 0) return `${r.lintErrors} scenario lint error(s)`;
  return undefined;
}

/** Caught: some cell failed. Error: some cell could not be probed (a harness failure is never evidence). */
export function judgeDefect(defect: DefectInfo, run: RunResult, durationMs: number, complete = true): DefectResult {
  const cells = run.scenarios.flatMap((s) => s.cells);
  const errors = cells.filter((c) => c.verdict === 'error');
  if (errors.length > 0) {
    const first = errors[0]!;
    const error = `${errors.length} cell(s) could not be probed, e.g. ${first.key}: ${first.reason}`;
    return { defect, status: 'error', caughtBy: [], error, durationMs, complete, run };
  }
  const failed = cells.filter((c) => c.verdict === 'fail');
  return { defect, status: failed.length > 0 ? 'caught' : 'survived', caughtBy: failed, durationMs, complete, run };
}
