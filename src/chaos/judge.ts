import type {
  CellResult,
  ChaosInvariants,
  ClientKind,
  EnforcementMeasure,
  ExpectedOutcome,
  Expectation,
  InvariantResult,
  Observation,
  PercentileFigure,
  ProbeJudgement,
  Scenario,
  TimeToEnforceStats,
  TimelineProbe,
  Verdict,
  WorkloadKey,
} from '../model/index.js';
import type { ChaosCell, ChaosRunInput, ChaosTlsEvidence, ProbeRecord } from './types.js';
import type { Acceptable, World } from './world.js';

/** Clients presenting a certificate the mesh must refuse: one accepted is a fail-open whatever the port's mode. */
const BAD_CERT_CLIENTS: ReadonlySet<ClientKind> = new Set(['mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain']);

export interface JudgedProbe {
  readonly record: ProbeRecord;
  /** The observation as judged (an mTLS session on an expired server certificate becomes the mesh client's refusal). */
  readonly obs: Observation;
  readonly judged: ProbeJudgement;
  /** The expectation it was held to (the one in force at its end). */
  readonly expected: Expectation | { readonly outcome: ExpectedOutcome; readonly rule: string };
  readonly detail?: string;
}

/** The outcome class of an observation; `undefined`: no evidence (an error, a refused connect). */
export function outcomeOf(obs: Observation): ExpectedOutcome | undefined {
  if (obs.status === 'allowed') return obs.path === 'passthrough' ? 'passthrough' : 'allow';
  if (obs.status === 'denied') return obs.how === 'refused' ? undefined : 'deny';
  return undefined;
}

/**
 * What a mesh client would have seen: an mTLS session on a server certificate that had already expired when the probe
 * started is refused by the client (R5.2), so it counts as a denial.
 */
export function asMeshClient(obs: Observation, startedAtEpochMs: number): Observation {
  if (obs.status !== 'allowed' || obs.path !== 'mtls') return obs;
  const notAfter = (obs.tls as ChaosTlsEvidence | undefined)?.serverNotAfter;
  if (notAfter === undefined || notAfter > startedAtEpochMs) return obs;
  const { echo: _echo, path: _path, httpStatus: _status, ...rest } = obs;
  return {
    ...rest,
    status: 'denied',
    how: 'tls-alert',
    alert: { code: 45, name: 'certificate_expired' },
    detail: `the server certificate expired at ${new Date(notAfter).toISOString()}: a mesh client refuses it`,
  };
}

export function judgeProbes(records: readonly ProbeRecord[], world: World, input: Pick<ChaosRunInput, 'matches'>, startedAt: number): JudgedProbe[] {
  return records.map((r) => judgeProbe(r, world, input, startedAt));
}

function judgeProbe(r: ProbeRecord, world: World, input: Pick<ChaosRunInput, 'matches'>, startedAt: number): JudgedProbe {
  const obs = asMeshClient(r.obs, startedAt + r.startMs);
  const outcome = outcomeOf(obs);
  if (r.special) {
    const s = r.special;
    const base = { record: r, obs, expected: { outcome: s.outcome, rule: s.rule } };
    if (outcome === s.outcome) return { ...base, judged: 'match' };
    if (outcome === undefined) return { ...base, judged: 'error', detail: describe(obs) };
    const open = s.outcome === 'deny' && outcome !== 'deny';
    return { ...base, judged: open && s.failOpenIfAllowed ? 'fail-open' : 'mismatch', detail: `${s.rule}: observed ${describe(obs)}` };
  }
  const accs = world.acceptable(r.cell, r.startMs, r.endMs);
  const current = accs[0]!.exp;
  let mismatch: string | undefined;
  for (const a of accs) {
    const m = input.matches(a.exp, obs);
    if (m.kind === 'match')
      return {
        record: r,
        obs,
        expected: current,
        judged: a.tag === 'current' ? 'match' : 'transition',
        ...(a.tag === 'previous' ? { detail: `matched the previous expectation (${a.exp.rule})` } : {}),
      };
    mismatch ??= m.why;
  }
  if ((outcome === 'allow' || outcome === 'passthrough') && failsOpen(accs, r.cell.client, outcome)) {
    return {
      record: r,
      obs,
      expected: current,
      judged: 'fail-open',
      detail: `${current.mode} port ${outcome === 'allow' ? 'accepted' : 'passed through'} ${clientText(r.cell.client)} (expected deny: ${current.rule})`,
    };
  }
  const tolerance = world.tolerance(r.cell, r.startMs, r.endMs);
  if (tolerance && (outcome === 'deny' || outcome === undefined)) {
    return { record: r, obs, expected: current, judged: 'tolerated', detail: `during ${tolerance.fault}: ${describe(obs)}` };
  }
  if (outcome === undefined) return { record: r, obs, expected: current, judged: 'error', detail: describe(obs) };
  if (outcome === 'deny' && accs.some((a) => a.exp.outcome !== 'deny')) {
    return { record: r, obs, expected: current, judged: 'unavailable', detail: `expected ${current.outcome} (${current.rule}) but ${describe(obs)}` };
  }
  return { record: r, obs, expected: current, judged: 'mismatch', detail: mismatch ?? `expected ${current.outcome} (${current.rule}) but ${describe(obs)}` };
}

/** Allowed where every acceptable expectation denies, on a port enforcing mTLS, or with a certificate the mesh must refuse. */
function failsOpen(accs: readonly Acceptable[], client: ClientKind, outcome: ExpectedOutcome): boolean {
  return accs.every((a) => a.exp.outcome === 'deny' && !a.serverSide && (a.exp.mode === 'STRICT' || (BAD_CERT_CLIENTS.has(client) && outcome === 'allow')));
}

function clientText(client: ClientKind): string {
  if (client.startsWith('plaintext-')) return 'plaintext';
  if (client === 'tls-no-client-cert') return 'TLS without a client certificate';
  if (BAD_CERT_CLIENTS.has(client)) return `a bad client certificate (${client})`;
  return client;
}

function describe(obs: Observation): string {
  switch (obs.status) {
    case 'allowed':
      return `allowed (${obs.path})`;
    case 'denied':
      return obs.how === 'refused' ? 'connection refused (nothing listening)' : `denied (${obs.how}${obs.alert ? ` ${obs.alert.name}` : ''}: ${obs.detail})`;
    case 'error':
      return `probe error: ${obs.message}`;
    default: {
      const never: never = obs;
      return String(never);
    }
  }
}

/** Consecutive probes of one cell judged the same way, as time windows: `2.310–2.420 s (3 probes)`. */
export function windows(probes: readonly JudgedProbe[]): { fromMs: number; toMs: number; count: number }[] {
  const sorted = [...probes].sort((a, b) => a.record.startMs - b.record.startMs);
  const out: { fromMs: number; toMs: number; count: number }[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    // Probes of one window are at most a few intervals apart; a longer gap starts a new window.
    if (last && p.record.startMs - last.toMs < 1000) {
      last.toMs = Math.max(last.toMs, p.record.endMs);
      last.count++;
    } else out.push({ fromMs: p.record.startMs, toMs: p.record.endMs, count: 1 });
  }
  return out;
}

export const secs = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const windowText = (w: { fromMs: number; toMs: number; count: number }) => `${secs(w.fromMs)}–${secs(w.toMs)} (${w.count} probe${w.count === 1 ? '' : 's'})`;

/** A change of the policy in force on one workload, measured port by port. */
export interface ChangeToMeasure {
  readonly change: string;
  readonly workload: WorkloadKey;
  readonly atMs: number;
  /** When the next change on this workload (or the end of the run) cuts the measurement off. */
  readonly untilMs: number;
  readonly from: string;
  readonly to: string;
}

/** A measure plus the cells whose expectation the change flipped (they carry a late or missing enforcement). */
export interface EnforcementDetail extends EnforcementMeasure {
  readonly changedCells: readonly string[];
}

/**
 * Time to enforce per changed port: from the change until the first moment from which every probe of the port
 * matched the new policy. Per cell that is the first probe after its last probe that did not match (transitions and
 * tolerated probes do not match; errors are no evidence and are skipped); a cell whose last probe did not match was
 * never enforced. The port's figure is the latest of its cells'.
 */
export function measureEnforcement(
  changes: readonly ChangeToMeasure[],
  judged: readonly JudgedProbe[],
  world: World,
  cells: readonly ChaosCell[],
  boundMs: number,
): EnforcementDetail[] {
  const out: EnforcementDetail[] = [];
  for (const ch of changes) {
    const ports = [...new Set(cells.filter((c) => c.workload === ch.workload).map((c) => c.port))];
    for (const port of ports) {
      const portCells = cells.filter((c) => c.workload === ch.workload && c.port === port);
      const changedCells = portCells.filter((c) => world.expectation(ch.from, c).outcome !== world.expectation(ch.to, c).outcome).map((c) => c.key);
      if (changedCells.length === 0) continue;
      let tte: number | undefined = 0;
      for (const cell of portCells) {
        // Probes that ended after the next change were judged against that one: not evidence about this change.
        const probes = judged
          .filter((j) => !j.record.special && j.record.cell.key === cell.key && j.record.startMs >= ch.atMs && j.record.endMs < ch.untilMs && j.judged !== 'error')
          .sort((a, b) => a.record.startMs - b.record.startMs);
        if (probes.length === 0) continue;
        const lastBad = probes.findLastIndex((j) => j.judged !== 'match');
        if (lastBad === probes.length - 1) {
          tte = undefined;
          break;
        }
        const from = lastBad >= 0 ? probes[lastBad + 1]! : changedCells.includes(cell.key) ? probes[0]! : undefined;
        if (from) tte = Math.max(tte, from.record.startMs - ch.atMs);
      }
      out.push({
        change: ch.change,
        atMs: round(ch.atMs),
        workload: ch.workload,
        port,
        ...(tte !== undefined ? { timeToEnforceMs: Math.round(Math.max(0, tte)) } : {}),
        boundMs,
        ok: tte !== undefined && tte <= boundMs,
        changedCells,
      });
    }
  }
  return out;
}

export function percentiles(values: readonly number[]): PercentileFigure | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { count: s.length, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: s.at(-1)! };
}

export function enforcementStats(m: readonly EnforcementMeasure[]): TimeToEnforceStats {
  const done = m.filter((x) => x.timeToEnforceMs !== undefined);
  const group = <K extends string>(keyOf: (x: EnforcementMeasure) => K) => {
    const g = new Map<K, number[]>();
    for (const x of done) g.set(keyOf(x), [...(g.get(keyOf(x)) ?? []), x.timeToEnforceMs!]);
    return g;
  };
  const perPort = [...group((x) => `${x.workload}|${x.port}`)].map(([k, v]) => {
    const [workload, port] = k.split('|') as [string, string];
    return { workload, port: Number(port), ...percentiles(v)! };
  });
  const perFault = [...group((x) => x.change)].map(([change, v]) => ({ change, ...percentiles(v)! }));
  const overall = percentiles(done.map((x) => x.timeToEnforceMs!));
  return { perPort, perFault, ...(overall ? { overall } : {}) };
}

/** A fault after which the workload's allowed paths must work again within the recovery bound. */
export interface RecoveryToMeasure {
  readonly fault: string;
  readonly workload: WorkloadKey;
  readonly ports?: ReadonlySet<number>;
  /** When the fault ended (the restart began, the network fault was lifted). */
  readonly fromMs: number;
  readonly untilMs: number;
}

/**
 * Time from a fault's end until every probe of its workload (its ports) was as expected again: per cell, the first
 * probe after its last one that was not; the latest over the cells. Undefined if some cell never was again.
 */
export function measureRecovery(r: RecoveryToMeasure, judged: readonly JudgedProbe[]): number | undefined {
  const byCell = new Map<string, JudgedProbe[]>();
  for (const j of judged) {
    if (j.record.special || j.record.cell.workload !== r.workload || (r.ports && !r.ports.has(j.record.cell.port))) continue;
    if (j.record.startMs < r.fromMs || j.record.endMs >= r.untilMs) continue;
    byCell.set(j.record.cell.key, [...(byCell.get(j.record.cell.key) ?? []), j]);
  }
  let latest = 0;
  for (const list of byCell.values()) {
    list.sort((a, b) => a.record.startMs - b.record.startMs);
    const ok = (j: JudgedProbe) => j.judged === 'match' || j.judged === 'transition';
    const lastBad = list.findLastIndex((j) => !ok(j));
    if (lastBad === list.length - 1) return undefined;
    if (lastBad >= 0) latest = Math.max(latest, list[lastBad + 1]!.record.startMs - r.fromMs);
  }
  return byCell.size > 0 ? latest : undefined;
}

export interface Judgement {
  readonly cells: CellResult[];
  readonly invariants: InvariantResult[];
  readonly timelineProbes: TimelineProbe[];
  readonly availability?: number;
}

export interface JudgeRunInput {
  scenario: Scenario;
  cells: readonly ChaosCell[];
  judged: readonly JudgedProbe[];
  enforcement: readonly EnforcementDetail[];
  recoveries: readonly MeasuredRecovery[];
  invariants: ChaosInvariants;
  finalExpectation: (cell: ChaosCell) => Expectation;
  /** A harness problem (a failed canary, a data plane that died): cells that did not fail become errors. */
  harnessError?: string;
  /**
   * A fault whose canary could not prove it landed: what the run saw cannot be told apart from the fault's absence
   * or from load, so every cell is an error, failing ones included (never a fail, never a pass).
   */
  unproven?: string;
}

type MeasuredRecovery = RecoveryToMeasure & { recoveryMs?: number; observable: boolean };

/** What the whole run's invariants say that each cell's verdict needs. */
interface RunFacts {
  readonly availability: number | undefined;
  readonly availabilityOk: boolean;
  readonly lateRecovery: readonly MeasuredRecovery[];
}

/** Verdict per cell and the invariants over the whole timeline. */
export function judgeRun(args: JudgeRunInput): Judgement {
  const { judged, invariants } = args;
  const byCell = new Map<string, JudgedProbe[]>();
  for (const j of judged) byCell.set(j.record.cell.key, [...(byCell.get(j.record.cell.key) ?? []), j]);

  // Availability: allowed paths outside fault windows.
  const allowedPaths = judged.filter((j) => !j.record.special && ['match', 'transition', 'unavailable'].includes(j.judged) && j.expected.outcome !== 'deny');
  const unavailable = allowedPaths.filter((j) => j.judged === 'unavailable');
  const availability = allowedPaths.length > 0 ? (allowedPaths.length - unavailable.length) / allowedPaths.length : undefined;
  const availabilityOk = availability === undefined || availability >= invariants.availability;
  const lateRecovery = args.recoveries.filter((r) => r.observable && (r.recoveryMs === undefined || r.recoveryMs > invariants.recoveryMs));
  const facts: RunFacts = { availability, availabilityOk, lateRecovery };

  const invariantResults: InvariantResult[] = [
    noFailOpenInvariant(judged),
    timeToEnforceInvariant(args.enforcement, invariants),
    availabilityInvariant(facts, unavailable, invariants),
    recoveryInvariant(args.recoveries, lateRecovery, invariants),
  ];
  const cells: CellResult[] = args.cells.map((cell) => judgeCell(cell, byCell.get(cell.key) ?? [], args, facts));
  return { cells, invariants: invariantResults, timelineProbes: timelineProbes(judged), ...(availability !== undefined ? { availability } : {}) };
}

function noFailOpenInvariant(judged: readonly JudgedProbe[]): InvariantResult {
  const failOpen = judged.filter((j) => j.judged === 'fail-open');
  return {
    name: 'no-fail-open',
    ok: failOpen.length === 0,
    value: failOpen.length,
    violations: [...groupByCell(failOpen).values()].flatMap((list) =>
      windows(list).map((w) => `${cellText(list[0]!.record.cell)} failed open at ${windowText(w)}: ${list[0]!.detail}`),
    ),
  };
}

function timeToEnforceInvariant(enforcement: readonly EnforcementDetail[], invariants: ChaosInvariants): InvariantResult {
  const lateEnforcement = enforcement.filter((m) => !m.ok);
  return {
    name: 'time-to-enforce',
    ok: lateEnforcement.length === 0,
    ...(enforcement.some((m) => m.timeToEnforceMs !== undefined)
      ? { value: Math.max(...enforcement.filter((m) => m.timeToEnforceMs !== undefined).map((m) => m.timeToEnforceMs!)) }
      : {}),
    bound: invariants.timeToEnforceMs,
    violations: lateEnforcement.map((m) =>
      m.timeToEnforceMs === undefined
        ? `${m.workload}:${m.port}: ${m.change} at ${secs(m.atMs)} was never enforced for good`
        : `${m.workload}:${m.port}: ${m.change} at ${secs(m.atMs)} took ${m.timeToEnforceMs} ms (bound ${m.boundMs} ms)`,
    ),
  };
}

function availabilityInvariant(facts: RunFacts, unavailable: readonly JudgedProbe[], invariants: ChaosInvariants): InvariantResult {
  const { availability, availabilityOk } = facts;
  return {
    name: 'availability',
    ok: availabilityOk,
    ...(availability !== undefined ? { value: Number(availability.toFixed(6)) } : {}),
    bound: invariants.availability,
    violations: availabilityOk
      ? []
      : [...groupByCell(unavailable).values()].flatMap((list) =>
          windows(list).map((w) => `${cellText(list[0]!.record.cell)} unavailable at ${windowText(w)}: ${list[0]!.detail ?? ''}`),
        ),
  };
}

function recoveryInvariant(recoveries: readonly MeasuredRecovery[], lateRecovery: readonly MeasuredRecovery[], invariants: ChaosInvariants): InvariantResult {
  return {
    name: 'recovery',
    ok: lateRecovery.length === 0,
    ...(recoveries.some((r) => r.recoveryMs !== undefined) ? { value: Math.max(...recoveries.filter((r) => r.recoveryMs !== undefined).map((r) => r.recoveryMs!)) } : {}),
    bound: invariants.recoveryMs,
    violations: lateRecovery.map((r) =>
      r.recoveryMs === undefined
        ? `${r.workload}: did not recover after ${r.fault} (ended at ${secs(r.fromMs)})`
        : `${r.workload}: recovered ${r.recoveryMs} ms after ${r.fault} (bound ${invariants.recoveryMs} ms)`,
    ),
  };
}

/** One cell's verdict from its probes, with the probe that shows it. */
function judgeCell(cell: ChaosCell, list: readonly JudgedProbe[], args: JudgeRunInput, facts: RunFacts): CellResult {
  const exp = args.finalExpectation(cell);
  const problems = cellProblems(cell, list, args, facts);
  const { verdict, reason } = cellVerdict(list, problems, exp, args);
  const { observed, expected } = shownProbe(list, verdict, exp);
  const lastOutcome = observed ? outcomeOf(observed) : undefined;
  return {
    key: cell.key,
    scenario: args.scenario.name,
    feature: args.scenario.feature,
    meshMode: exp.meshMode,
    workload: cell.workload,
    port: cell.port,
    protocol: cell.protocol,
    client: cell.client,
    expected: { mode: expected.mode, outcome: expected.outcome, rule: expected.rule, required: expected.required, requiredRule: expected.requiredRule },
    ...(observed ? { observed: { ...observed, attempts: list.length } } : {}),
    ...(lastOutcome !== undefined ? { observedOutcome: lastOutcome } : {}),
    verdict,
    reason,
    decidedBy: exp.decidedBy,
  };
}

/** What makes the cell fail: fail-open and mismatch windows, and its share of the broken invariants. */
function cellProblems(cell: ChaosCell, list: readonly JudgedProbe[], args: JudgeRunInput, facts: RunFacts): string[] {
  const { invariants } = args;
  const problems: string[] = [];
  const open = list.filter((j) => j.judged === 'fail-open');
  for (const w of windows(open)) problems.push(`FAIL-OPEN at ${windowText(w)}: ${open[0]!.detail}`);
  const wrong = list.filter((j) => j.judged === 'mismatch');
  for (const w of windows(wrong)) problems.push(`mismatch at ${windowText(w)}: ${wrong.find((j) => j.record.startMs >= w.fromMs)?.detail ?? wrong[0]!.detail}`);
  const down = list.filter((j) => j.judged === 'unavailable');
  if (!facts.availabilityOk && down.length > 0)
    for (const w of windows(down)) problems.push(`unavailable at ${windowText(w)} (availability ${pct(facts.availability)} < ${pct(invariants.availability)}): ${down[0]!.detail}`);
  const cellChanges = args.enforcement.filter((m) => m.changedCells.includes(cell.key) && !m.ok);
  for (const m of cellChanges)
    problems.push(
      m.timeToEnforceMs === undefined
        ? `${m.change} at ${secs(m.atMs)} was never enforced for good on this port`
        : `${m.change} took ${m.timeToEnforceMs} ms to be enforced on this port (bound ${m.boundMs} ms)`,
    );
  for (const r of facts.lateRecovery.filter((x) => x.workload === cell.workload && (!x.ports || x.ports.has(cell.port)))) {
    if (!list.some((j) => j.record.startMs >= r.fromMs && j.judged !== 'match')) continue;
    problems.push(r.recoveryMs === undefined ? `did not recover after ${r.fault}` : `recovered only ${r.recoveryMs} ms after ${r.fault} (bound ${invariants.recoveryMs} ms)`);
  }
  return problems;
}

function cellVerdict(list: readonly JudgedProbe[], problems: readonly string[], exp: Expectation, args: JudgeRunInput): { verdict: Verdict; reason: string } {
  const errors = list.filter((j) => j.judged === 'error');
  const counts = count(list);
  if (args.unproven !== undefined) {
    return { verdict: 'error', reason: `${args.unproven}; this cell proves nothing${problems.length > 0 ? ` (it would have failed: ${problems.join('; ')})` : ''}. ${counts}` };
  }
  if (problems.length > 0) return { verdict: 'fail', reason: `${problems.join('; ')}. ${counts}` };
  if (args.harnessError !== undefined) return { verdict: 'error', reason: `${args.harnessError}; this cell proves nothing. ${counts}` };
  if (list.length === 0) return { verdict: 'error', reason: 'no probe of this cell ran' };
  if (errors.length > 0) {
    return { verdict: 'error', reason: `${errors.length} probe(s) could not run (${errors[0]!.detail}), so the timeline has holes: not a pass. ${counts}` };
  }
  return { verdict: 'pass', reason: `every probe as expected over the whole run (${exp.mode} at the end, ${exp.rule}). ${counts}` };
}

/** A failing cell shows its first offending probe (expected then, observed then); others the state at the end. */
function shownProbe(list: readonly JudgedProbe[], verdict: Verdict, exp: Expectation): { observed: Observation | undefined; expected: Expectation } {
  const sorted = [...list].sort((a, b) => a.record.startMs - b.record.startMs);
  // A policy never enforced within a run that moved on before its bound shows only transitions: the last is the proof.
  const offending =
    verdict === 'fail'
      ? (sorted.find((j) => j.judged === 'fail-open') ??
        sorted.find((j) => j.judged === 'mismatch' || j.judged === 'unavailable') ??
        sorted.findLast((j) => j.judged === 'transition'))
      : undefined;
  const shown = offending ?? sorted.filter((j) => !j.record.special).at(-1);
  const observed = shown ? stripChaosEvidence(shown.obs) : undefined;
  const expected =
    offending && 'mode' in offending.expected
      ? offending.expected
      : offending
        ? { ...exp, outcome: offending.expected.outcome, rule: offending.expected.rule, required: [offending.expected.outcome], requiredRule: offending.expected.rule }
        : exp;
  return { observed, expected };
}

function timelineProbes(judged: readonly JudgedProbe[]): TimelineProbe[] {
  return [...judged]
    .sort((a, b) => a.record.startMs - b.record.startMs)
    .map((j) => {
      const o = outcomeOf(j.obs);
      return {
        atMs: round(j.record.startMs),
        key: j.record.cell.key,
        workload: j.record.cell.workload,
        port: j.record.cell.port,
        client: j.record.cell.client,
        expected: j.expected.outcome,
        observed: o ?? 'error',
        ...(j.obs.status === 'denied' ? { how: j.obs.how } : {}),
        durationMs: round(j.record.endMs - j.record.startMs),
        judged: j.judged,
        ...(j.detail !== undefined && j.judged !== 'match' ? { detail: j.detail } : {}),
      };
    });
}

function groupByCell(list: readonly JudgedProbe[]): Map<string, JudgedProbe[]> {
  const m = new Map<string, JudgedProbe[]>();
  for (const j of list) m.set(j.record.cell.key, [...(m.get(j.record.cell.key) ?? []), j]);
  return m;
}

function cellText(c: ChaosCell): string {
  return `${c.workload}:${c.port} ${c.client}`;
}

function count(list: readonly JudgedProbe[]): string {
  const by = new Map<string, number>();
  for (const j of list) by.set(j.judged, (by.get(j.judged) ?? 0) + 1);
  return `${list.length} probes: ${[...by].map(([k, v]) => `${v} ${k}`).join(', ')}`;
}

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(2)} %`);
const round = (ms: number) => Math.round(ms * 10) / 10;

/** The report keeps only the TLS evidence fields of the schema; the chaos extras served the checks. */
export function stripChaosEvidence(obs: Observation): Observation {
  if (!obs.tls) return obs;
  const { version, alpn, serverIdentity, serverIssuer, serverIdentityOk } = obs.tls;
  return { ...obs, tls: { version, alpn, serverIdentity, serverIssuer, serverIdentityOk } };
}
