import { CHAOS_DEFAULTS, PROXY_FAULTS } from '../model/index.js';
import type { ChaosClient, ChaosInvariants, ChaosRandom, ChaosSpec, ChaosStep, FaultKind, Policy, ScenarioWarning, Workload } from '../model/index.js';
import { formatPos } from '../util/errors.js';
import type { Diagnostic, PathSeg } from './diagnostics.js';
import { isRecord } from './is-record.js';
import { k8sNames } from './k8s-names.js';
import { loadPolicies } from './load-policies.js';
import { INITIAL_POLICY_SET, chaosCheck, durationMs, stepCheck } from './chaos-schema.js';
import type { RawChaos, RawStep } from './chaos-schema.js';
import type { YamlDoc } from './yaml-source.js';

type StepField = 'workload' | 'port' | 'duration' | 'policySet' | 'latency' | 'bytesPerSecond' | 'percent' | 'offset' | 'validFor';

/** Fields each fault takes besides `at` and `fault`: required, then optional. */
const FAULT_FIELDS: Readonly<Record<FaultKind, { readonly required: readonly StepField[]; readonly optional: readonly StepField[] }>> = {
  kill: { required: ['workload'], optional: ['duration'] },
  restart: { required: ['workload'], optional: ['duration'] },
  'policy-change': { required: ['policySet'], optional: [] },
  'cert-rotation': { required: ['workload'], optional: [] },
  'cert-expiry': { required: ['workload', 'validFor'], optional: ['duration'] },
  'ca-rotation': { required: [], optional: ['workload', 'duration'] },
  'distribution-pause': { required: ['workload', 'policySet'], optional: ['duration'] },
  latency: { required: ['workload', 'latency'], optional: ['port', 'duration'] },
  bandwidth: { required: ['workload', 'bytesPerSecond'], optional: ['port', 'duration'] },
  reset: { required: ['workload'], optional: ['port', 'duration'] },
  blackhole: { required: ['workload'], optional: ['port', 'duration'] },
  partition: { required: ['workload'], optional: ['port', 'duration'] },
  'packet-loss': { required: ['workload', 'percent'], optional: ['duration'] },
  'clock-skew': { required: ['workload', 'offset'], optional: ['duration'] },
};

/** Default length of a staged CA rotation (three stages). */
export const CA_ROTATION_DEFAULT_MS = 3000;
/** A random schedule leaves this much at the start for a baseline, and gives each fault a slot at least this long. */
export const RANDOM_LEAD_MS = 500;
export const RANDOM_MIN_SLOT_MS = 1000;
const MIN_INTERVAL_MS = 10;

export interface ChaosLoadContext {
  readonly doc: YamlDoc;
  /** Valid workloads by key, and every declared key (an invalid workload is not also "unknown"). */
  readonly workloads: ReadonlyMap<string, Workload>;
  readonly declared: ReadonlySet<string>;
  readonly mode: unknown;
  readonly diags: { add(d: Diagnostic): void; readonly count: number };
}

const BASE: PathSeg[] = ['spec', 'chaos'];

/** `spec.chaos` → ChaosSpec, every problem reported with its file:line:column; undefined when there were problems. */
export async function loadChaos(value: unknown, c: ChaosLoadContext): Promise<{ spec: ChaosSpec; warnings: ScenarioWarning[] } | undefined> {
  const before = c.diags.count;
  const report = (path: readonly PathSeg[], message: string, at: 'key' | 'value' = 'value'): void => c.diags.add(c.doc.diagnostic({ path, at, message }, BASE));
  for (const issue of chaosCheck.issues(value)) c.diags.add(c.doc.diagnostic(issue, BASE));
  if (c.mode !== undefined && c.mode !== 'sidecar') report([], `chaos scenarios run in sidecar mode only; this scenario's mode is ${JSON.stringify(c.mode)}`);

  const raw = isRecord(value) ? value : {};
  // Policy sets first: steps name them.
  const sets = new Map<string, readonly Policy[]>();
  const warnings: ScenarioWarning[] = [];
  if (isRecord(raw['policySets'])) {
    for (const [name, items] of Object.entries(raw['policySets'])) {
      if (name === INITIAL_POLICY_SET) {
        report(['policySets', name], `"${INITIAL_POLICY_SET}" is reserved: it names the scenario's own spec.policies`, 'key');
        continue;
      }
      if (!k8sNames.dns1123Label.test(name)) {
        report(['policySets', name], `policy set name ${JSON.stringify(name)} is not valid; allowed: ${k8sNames.labelDescription}`, 'key');
        continue;
      }
      if (!Array.isArray(items)) continue;
      const loaded = await loadPolicies(items, c.doc, [...BASE, 'policySets', name], c.diags);
      sets.set(name, loaded.policies);
      warnings.push(...loaded.warnings);
    }
  }
  if (!chaosCheck.is(value)) return undefined;
  const r: RawChaos = value;

  const runMs = durationMs(r.duration);
  if (runMs <= 0) report(['duration'], 'must be longer than 0');
  const probeIntervalMs = r.probeInterval === undefined ? CHAOS_DEFAULTS.probeIntervalMs : durationMs(r.probeInterval);
  if (probeIntervalMs < MIN_INTERVAL_MS) report(['probeInterval'], `must be at least ${MIN_INTERVAL_MS}ms`);
  else if (runMs > 0 && probeIntervalMs > runMs) report(['probeInterval'], `${probeIntervalMs} ms is longer than the run (${runMs} ms)`);

  const invariants: ChaosInvariants = {
    timeToEnforceMs: r.invariants?.timeToEnforce === undefined ? CHAOS_DEFAULTS.timeToEnforceMs : durationMs(r.invariants.timeToEnforce),
    recoveryMs: r.invariants?.recovery === undefined ? CHAOS_DEFAULTS.recoveryMs : durationMs(r.invariants.recovery),
    availability: r.invariants?.availability ?? CHAOS_DEFAULTS.availability,
  };
  if (r.invariants?.timeToEnforce !== undefined && invariants.timeToEnforceMs <= 0) report(['invariants', 'timeToEnforce'], 'must be longer than 0');
  if (r.invariants?.recovery !== undefined && invariants.recoveryMs <= 0) report(['invariants', 'recovery'], 'must be longer than 0');

  if (r.steps !== undefined && r.random !== undefined)
    report(['random'], 'give either steps or random, not both (a random schedule is generated to fit the run on its own)', 'key');

  const steps: ChaosStep[] = [];
  for (const [i, item] of (r.steps ?? []).entries()) {
    const step = checkStep(item, ['steps', i], { ...c, runMs, sets, invariants, report });
    if (step) steps.push(step);
  }
  checkOverlaps(steps, c, runMs);

  let random: ChaosRandom | undefined;
  if (r.random) {
    const source = c.doc.pos([...BASE, 'random']);
    random = { count: r.random.count, faults: r.random.faults as FaultKind[], ...(r.random.seed !== undefined ? { seed: r.random.seed } : {}), source };
    const slot = (runMs - RANDOM_LEAD_MS) / r.random.count;
    if (runMs > 0 && slot < RANDOM_MIN_SLOT_MS) {
      const need = RANDOM_LEAD_MS + r.random.count * RANDOM_MIN_SLOT_MS;
      report(
        ['random', 'count'],
        `${r.random.count} random faults need a run of at least ${need} ms (a ${RANDOM_MIN_SLOT_MS} ms slot each after the first ${RANDOM_LEAD_MS} ms); the run lasts ${runMs} ms`,
      );
    }
    const needsSet = r.random.faults.filter((f) => f === 'policy-change' || f === 'distribution-pause');
    if (needsSet.length > 0 && sets.size === 0)
      report(['random', 'faults'], `${needsSet.join(' and ')} need${needsSet.length === 1 ? 's' : ''} at least one named policy set in chaos.policySets`);
  }

  if (c.diags.count > before) return undefined;
  const spec: ChaosSpec = {
    ...(r.seed !== undefined ? { seed: r.seed } : {}),
    durationMs: runMs,
    probeIntervalMs,
    clients: (r.clients ?? CHAOS_DEFAULTS.clients) as ChaosClient[],
    steps: steps.sort((a, b) => a.atMs - b.atMs),
    ...(random ? { random } : {}),
    policySets: sets,
    invariants,
    ...(r.backends ? { backends: [...new Set(r.backends)] } : {}),
    source: c.doc.pos(BASE),
  };
  return { spec, warnings };
}

interface StepContext extends ChaosLoadContext {
  readonly runMs: number;
  readonly sets: ReadonlyMap<string, readonly Policy[]>;
  readonly invariants: ChaosInvariants;
  readonly report: (path: readonly PathSeg[], message: string, at?: 'key' | 'value') => void;
}

function checkStep(item: unknown, path: PathSeg[], c: StepContext): ChaosStep | undefined {
  const before = c.diags.count;
  for (const issue of stepCheck.issues(item)) c.diags.add(c.doc.diagnostic(issue, [...BASE, ...path]));
  if (!stepCheck.is(item)) return undefined;
  const s: RawStep = item;
  const fault = s.fault as FaultKind;
  const rule = FAULT_FIELDS[fault];
  const at = (field: string) => [...path, field];
  for (const f of rule.required) if (s[f] === undefined) c.report(path, `fault ${fault} needs ${JSON.stringify(f)}`);
  const allowed = new Set<string>(['at', 'fault', ...rule.required, ...rule.optional]);
  for (const k of Object.keys(s)) {
    if (!allowed.has(k))
      c.report(at(k), `fault ${fault} does not take ${JSON.stringify(k)}; it takes: ${[...rule.required, ...rule.optional].join(', ') || 'nothing besides at'}`, 'key');
  }

  const workload = s.workload !== undefined ? c.workloads.get(s.workload) : undefined;
  if (s.workload !== undefined && !c.declared.has(s.workload)) {
    c.report(at('workload'), `unknown workload ${JSON.stringify(s.workload)}; workloads of this scenario: ${[...c.declared].join(', ') || 'none'}`);
  }
  if (s.port !== undefined && workload && !workload.ports.some((p) => p.port === s.port)) {
    c.report(at('port'), `${s.port} is not a port of workload ${s.workload}; its ports: ${workload.ports.map((p) => p.port).join(', ')}`);
  }
  if (s.policySet !== undefined && s.policySet !== INITIAL_POLICY_SET && !c.sets.has(s.policySet)) {
    const known = [INITIAL_POLICY_SET, ...c.sets.keys()].join(', ');
    c.report(at('policySet'), `unknown policy set ${JSON.stringify(s.policySet)}; policy sets of this scenario: ${known} (define them under chaos.policySets)`);
  }

  const atMs = durationMs(s.at);
  const dur = s.duration !== undefined ? durationMs(s.duration) : undefined;
  if (c.runMs > 0 && atMs >= c.runMs) c.report(at('at'), `the step starts at ${atMs} ms, at or after the end of the run (${c.runMs} ms): the schedule is longer than the run`);
  if (dur !== undefined && dur <= 0 && fault !== 'restart') c.report(at('duration'), 'must be longer than 0');
  const needsDuration = PROXY_FAULTS.includes(fault) || fault === 'packet-loss' || fault === 'distribution-pause' || fault === 'ca-rotation' || fault === 'kill';
  const effective = dur ?? (needsDuration ? defaultDuration(fault) : undefined);
  if (c.runMs > 0 && atMs < c.runMs && effective !== undefined && atMs + effective > c.runMs) {
    c.report(
      dur !== undefined ? at('duration') : at('at'),
      `the ${fault} fault lasts until ${atMs + effective} ms${dur === undefined ? ` (default duration ${effective} ms)` : ''}, past the end of the run (${c.runMs} ms): the schedule is longer than the run`,
    );
  }
  const latencyMs = s.latency !== undefined ? durationMs(s.latency) : undefined;
  if (latencyMs !== undefined && latencyMs <= 0) c.report(at('latency'), 'must be longer than 0');
  const validForMs = s.validFor !== undefined ? durationMs(s.validFor) : undefined;
  if (validForMs !== undefined) {
    if (validForMs <= 0) c.report(at('validFor'), 'must be longer than 0');
    else if (atMs + validForMs >= c.runMs)
      c.report(at('validFor'), `the certificate would expire at ${atMs + validForMs} ms, after the end of the run (${c.runMs} ms): its expiry could not be observed`);
    else if (dur !== undefined && dur <= validForMs) c.report(at('duration'), `must be longer than validFor (${validForMs} ms): the fresh certificate comes after the expiry`);
  }
  const offsetMs = s.offset !== undefined ? durationMs(s.offset) : undefined;
  if (offsetMs === 0) c.report(at('offset'), 'a clock offset of 0 is no skew');
  if (c.diags.count > before) return undefined;
  return {
    fault,
    atMs,
    ...(effective !== undefined ? { durationMs: effective } : {}),
    ...(s.workload !== undefined ? { workload: s.workload } : {}),
    ...(s.port !== undefined ? { port: s.port } : {}),
    ...(s.policySet !== undefined ? { policySet: s.policySet } : {}),
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(s.bytesPerSecond !== undefined ? { bytesPerSecond: s.bytesPerSecond } : {}),
    ...(s.percent !== undefined ? { percent: s.percent } : {}),
    ...(offsetMs !== undefined ? { offsetMs } : {}),
    ...(validForMs !== undefined ? { validForMs } : {}),
    source: c.doc.pos([...BASE, ...path]),
  };
}

/** Default length of a fault that always lasts a while. */
export function defaultDuration(fault: FaultKind): number {
  if (fault === 'kill') return CHAOS_DEFAULTS.killDownMs;
  if (fault === 'ca-rotation') return CA_ROTATION_DEFAULT_MS;
  return CHAOS_DEFAULTS.faultDurationMs;
}

/**
 * How long a step occupies its workload: from `at` to the end of its effect (a fault that lasts "until the end"
 * occupies the rest of the run; an instant one the time its canary may take to confirm it).
 */
export function occupancy(step: ChaosStep, runMs: number): { from: number; to: number } {
  // A restart or a reload takes a moment to settle after the step's own time.
  const settles = step.fault === 'cert-rotation' || step.fault === 'restart' || step.fault === 'kill' || step.fault === 'clock-skew';
  const end =
    step.fault === 'cert-expiry' || step.fault === 'clock-skew' ? (step.durationMs !== undefined ? step.atMs + step.durationMs : runMs) : step.atMs + (step.durationMs ?? 0);
  return { from: step.atMs, to: Math.min(end + (settles ? SETTLE_MS : 0), runMs) };
}

/** Time a restart or reload is given to settle before another fault may touch the same workload. */
export const SETTLE_MS = 1000;

/** Two faults on one workload at once would prove neither (a certificate installed while the process is dead). */
function checkOverlaps(steps: readonly ChaosStep[], c: ChaosLoadContext, runMs: number): void {
  const bound = steps.filter((s) => s.fault !== 'policy-change');
  for (let i = 0; i < bound.length; i++) {
    for (let j = i + 1; j < bound.length; j++) {
      const a = bound[i]!;
      const b = bound[j]!;
      const shared = a.workload === undefined || b.workload === undefined || a.workload === b.workload;
      if (!shared) continue;
      const x = occupancy(a, runMs);
      const y = occupancy(b, runMs);
      if (x.from < y.to && y.from < x.to) {
        const [first, second] = a.atMs <= b.atMs ? [a, b] : [b, a];
        const target = first.workload ?? second.workload ?? 'every workload';
        c.diags.add({
          file: second.source.file,
          pos: second.source,
          message: `${second.fault} at ${second.atMs} ms overlaps ${first.fault} at ${first.atMs} ms (${formatPos(first.source)}) on ${target}, which lasts until ${occupancy(first, runMs).to} ms; faults on one workload must not overlap`,
        });
      }
    }
  }
}
