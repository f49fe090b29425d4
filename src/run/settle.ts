import { randomBytes } from 'node:crypto';
import type {
  Attachment,
  CellResult,
  Claim,
  DataPlaneSpec,
  Environment,
  Expectation,
  MeshMode,
  Observation,
  ProbeJob,
  Prober,
  Scenario,
  ScenarioPhases,
  ScenarioTimeline,
  SettleKind,
} from '../model/index.js';
import { errorCell, judgeCell, provesViolation, skippedCell } from '../diff/index.js';
import { applyReceipts, listenerOf, showsLife, timeoutsWithoutLife, type AttemptRef } from '../probe/index.js';
import { withProps } from '../util/with-props.js';
import { interruptedBy, interruptedReason, type InterruptSignal } from './interrupt.js';

/** One scenario in one mesh mode, planned: the oracle's cells and the data plane that runs it. */
export interface Unit {
  readonly s: Scenario;
  readonly m: MeshMode;
  readonly exps: readonly Expectation[];
  /** The data plane that runs this mode (the run's, or its companion for the other mode). */
  readonly dataPlane: DataPlaneSpec;
  /** Why the run does not run this unit (a typed "this backend cannot run this"). */
  readonly skip?: string;
  /**
   * Cells probed only to show their port is alive, never judged or reported: with `--only-cell` a chosen cell's
   * timeout needs another probe of its port in the same round to count as a denial.
   */
  readonly liveness?: readonly Expectation[];
}

/** What a settle policy works with: a deployed environment, the probe jobs of its cells, a prober. */
export interface SettleContext {
  readonly unit: Unit;
  readonly env: Environment;
  /** The job of every cell to probe; cells with a `skipReason` have none. */
  readonly jobs: ReadonlyMap<string, ProbeJob>;
  /** Absent in a dry run: nothing is probed. */
  readonly prober?: Prober;
  /** Jobs fired beside each round for their port's liveness only (see Unit.liveness). */
  readonly liveness?: ReadonlyMap<string, ProbeJob>;
  skipReason(e: Expectation): string | undefined;
  readonly claim: Claim;
  readonly interrupt?: AbortSignal;
  /** Progress lines (plan comments in a dry run). */
  readonly log: (line: string) => void;
}

/** The judged cells of one unit, plus what the report shows beside them. */
export interface Settled {
  readonly cells: CellResult[];
  readonly timeline?: ScenarioTimeline;
  readonly skipped?: string;
  readonly error?: string;
  readonly attachments?: readonly Attachment[];
  readonly phases?: ScenarioPhases;
}

/**
 * How a cell settles: the same shape, one strategy per backend family (`retries` for local, netns and docker,
 * `convergence` for kind and cluster).
 */
export interface SettlePolicy {
  readonly kind: SettleKind;
  /** Shown in the report's options: how a cell settled in this run. */
  readonly description: string;
  /** Extra attempts (the retries policy only), recorded as `options.retries`. */
  readonly retries?: number;
  settle(c: SettleContext): Promise<Settled>;
}

/** The skipped cell of a cell the data plane or the prober cannot express. */
export function skippedFor(c: SettleContext, e: Expectation): CellResult | undefined {
  const reason = c.skipReason(e);
  return reason === undefined ? undefined : skippedCell(e, reason, c.unit.s.feature);
}

/**
 * Retries: every cell is probed once; a cell that did not match (and is not proven a violation by the application
 * itself) is probed again up to `retries` times, and a later match makes it `flaky`. For environments that start
 * with their policies in place.
 */
export function settleByRetries(retries: number): SettlePolicy {
  return {
    kind: 'retries',
    retries,
    description: `retries: ${retries} more attempt${retries === 1 ? '' : 's'} for a cell that did not match`,
    settle: (c) => retryCells(c, retries),
  };
}

async function retryCells(c: SettleContext, retries: number): Promise<Settled> {
  const { exps } = c.unit;
  const rounds = probeRounds(c);
  const judgeAll = () => exps.map((e) => skippedFor(c, e) ?? judgeCell(e, rounds.attempts.get(e.key)!, { feature: c.unit.s.feature, claim: c.claim }));

  await rounds.probe([...c.jobs.keys()]);
  let problems = c.env.health();
  for (let r = 0; r < retries && problems.length === 0 && !c.interrupt?.aborted; r++) {
    // A fail proven by the application (its answer, or its receipt of the payload) is settled: retries only give a
    // denied or erred cell a chance.
    const again = judgeAll()
      .filter((cell, i) => (cell.verdict === 'fail' && !(cell.observed && provesViolation(exps[i]!, cell.observed, c.claim))) || cell.verdict === 'error')
      .map((cell) => cell.key);
    if (again.length === 0) break;
    await rounds.probe(again);
    problems = c.env.health();
  }
  // A data plane may hand a payload to the application after the client gave up: look once more before judging.
  await rounds.collectReceipts();
  const by = interruptedBy(c.interrupt);
  // After an interrupt nothing is judged: the teardown it began can reset connections a deny cell would count.
  // Observations made while a data plane was down cannot be trusted either way.
  if (by) return { cells: exps.map((e) => skippedFor(c, e) ?? interruptedError(e, rounds.attempts.get(e.key)!, by, c.unit.s.feature)) };
  if (problems.length > 0) return { cells: exps.map((e) => errorCell(e, `data plane unhealthy: ${problems.join('; ')}`, c.unit.s.feature)) };
  return { cells: judgeAll() };
}

/** A cell of a scenario the interrupt cut short: an error, with the last observation (if any) kept as evidence. */
function interruptedError(e: Expectation, attempts: readonly Observation[], by: InterruptSignal, feature: string): CellResult {
  const last = attempts.at(-1);
  return withProps(errorCell(e, interruptedReason(by), feature), last ? { observed: last } : {});
}

/**
 * Probe rounds with per-attempt ids: the echo app's receipts name the attempts that reached the application. One
 * call is one round: a timeout counts as a denial only if its port showed life to another probe of the round. A retry
 * round also fires, once per port it retries, a cell of that port that showed life in the last round (not recorded:
 * it only tells a port that still answers from one that hangs).
 */
function probeRounds(c: SettleContext) {
  const attempts = new Map<string, Observation[]>([...c.jobs.keys()].map((k) => [k, []]));
  const idPrefix = `mc-${randomBytes(6).toString('hex')}-`;
  let idCount = 0;
  const ids = new Map<string, AttemptRef>();
  const withId = (k: string): ProbeJob => withProps(c.jobs.get(k)!, { probeId: `${idPrefix}${++idCount}` });
  const collectReceipts = async () => {
    if (!c.env.receipts || c.interrupt?.aborted) return;
    try {
      applyReceipts(await c.env.receipts(), ids, attempts);
    } catch {
      // An unreadable receipts channel only withholds evidence: the cells are judged on what the clients saw.
    }
  };
  const companionsOf = (keys: readonly string[], round: readonly ProbeJob[]): ProbeJob[] => {
    const ports = new Set(round.map(listenerOf));
    const inRound = new Set(keys);
    const out: ProbeJob[] = [];
    for (const [k, list] of attempts) {
      const last = list.at(-1);
      if (!inRound.has(k) && last && showsLife(last) && ports.delete(listenerOf(c.jobs.get(k)!))) out.push(withId(k));
    }
    return out;
  };
  const livenessOf = (jobs: readonly ProbeJob[]): ProbeJob[] => {
    const ports = new Set(jobs.map(listenerOf));
    return [...(c.liveness?.values() ?? [])].filter((j) => ports.has(listenerOf(j))).map((j) => withProps(j, { probeId: `${idPrefix}${++idCount}` }));
  };
  const probe = async (keys: readonly string[]) => {
    if (!c.prober) return;
    const round = keys.map(withId);
    const withCompanions = [...round, ...companionsOf(keys, round)];
    const all = [...withCompanions, ...livenessOf(withCompanions)];
    const observed = timeoutsWithoutLife(all, await c.prober.probe(all));
    for (const [i, k] of keys.entries()) {
      const obs = observed.get(k);
      const list = attempts.get(k)!;
      // A probe the interrupt cut short or never started observed nothing: no placeholder to pass for evidence.
      if (!obs && c.interrupt?.aborted) continue;
      ids.set(round[i]!.probeId!, { key: k, index: list.length });
      list.push(
        obs
          ? withProps(obs, { attempts: list.length + 1 })
          : { status: 'error', message: 'probe produced no observation', timings: { startedAt: Date.now(), totalMs: 0 }, attempts: list.length + 1 },
      );
    }
    await collectReceipts();
  };
  return { attempts, probe, collectReceipts };
}
