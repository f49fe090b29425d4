import { MAX_SEED, deriveSeed, seededRandom } from '../util/seeded-random.js';
import type { ChaosSpec, ChaosStep, FaultKind, Workload, WorkloadKey } from '../model/index.js';

/** The policy set named `initial` is the scenario's own `spec.policies`. */
export const INITIAL_SET = 'initial';

/** One fault of the concrete schedule: a written step or a generated one, with a stable id and a readable name. */
export interface ScheduledFault extends ChaosStep {
  /** Position in the schedule (time order). */
  readonly id: number;
  readonly name: string;
}

/** Parameters a generated fault gets (a random schedule needs no author input beyond the fault kinds). */
export const RANDOM_PARAMETERS = {
  latencyMs: 150,
  bytesPerSecond: 4096,
  percent: 30,
  /** 36 h back: the probe's mesh certificate (valid from 1 h ago) is not yet valid, the expired one (1–2 days ago) is. */
  offsetMs: -36 * 3_600_000,
} as const;

const LEAD_MS = 500;

/** A fresh random seed (when neither the scenario nor `--seed` gives one); recorded in the report to replay the run. */
export function randomSeed(): number {
  return Math.floor(Math.random() * (MAX_SEED + 1));
}

/** The seed a run uses: `--seed`, else `random.seed`, else `chaos.seed`, else `fallback` (a fresh one). */
export function effectiveSeed(spec: ChaosSpec, override: number | undefined, fallback: () => number = randomSeed): number {
  return override ?? spec.random?.seed ?? spec.seed ?? fallback();
}

/**
 * The concrete schedule: the written steps, or `random.count` faults generated from the seed. Pure: the same spec,
 * workloads and seed always give the same schedule. Generated faults each get one slot of the run after a short
 * lead (so they never overlap), a random time inside it, a random target and the parameters of RANDOM_PARAMETERS.
 */
export function buildSchedule(spec: ChaosSpec, workloads: readonly Workload[], seed: number): ScheduledFault[] {
  const steps: ChaosStep[] = spec.random ? generate(spec, workloads, seed) : [...spec.steps];
  return steps
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.atMs - b.s.atMs || a.i - b.i)
    .map(({ s }, id) => ({ ...s, id, name: faultName(s) }));
}

function generate(spec: ChaosSpec, workloads: readonly Workload[], seed: number): ChaosStep[] {
  const random = spec.random!;
  const slot = (spec.durationMs - LEAD_MS) / random.count;
  const sets = [...spec.policySets.keys()];
  const keys: WorkloadKey[] = workloads.map((w) => `${w.namespace}/${w.name}`);
  let current = INITIAL_SET;
  const out: ChaosStep[] = [];
  for (let i = 0; i < random.count; i++) {
    // One stream per fault: fault i does not depend on how many follow it.
    const rng = seededRandom(deriveSeed(seed, i));
    const fault: FaultKind = rng.pick(random.faults);
    const slotStart = LEAD_MS + i * slot;
    // The fault's own length, then time to settle (a restart, the recovery) inside the slot.
    const length = Math.round(slot * 0.4);
    const latest = Math.max(0, Math.floor(slot - length - slot * 0.3));
    const atMs = Math.round(slotStart + rng.int(0, latest));
    const workload = rng.pick(keys);
    const base = { fault, atMs, source: random.source, generated: i };
    const otherSet = () => {
      const choices = [INITIAL_SET, ...sets].filter((s) => s !== current);
      current = rng.pick(choices);
      return current;
    };
    switch (fault) {
      case 'policy-change':
        out.push({ ...base, policySet: otherSet() });
        break;
      case 'distribution-pause':
        out.push({ ...base, workload, durationMs: length, policySet: otherSet() });
        break;
      case 'kill':
        out.push({ ...base, workload, durationMs: Math.min(length, 1000) });
        break;
      case 'restart':
      case 'cert-rotation':
        out.push({ ...base, workload });
        break;
      case 'cert-expiry':
        out.push({ ...base, workload, validForMs: Math.round(length / 2), durationMs: length });
        break;
      case 'ca-rotation':
        out.push({ ...base, durationMs: length });
        break;
      case 'latency':
        out.push({ ...base, workload, durationMs: length, latencyMs: RANDOM_PARAMETERS.latencyMs });
        break;
      case 'bandwidth':
        out.push({ ...base, workload, durationMs: length, bytesPerSecond: RANDOM_PARAMETERS.bytesPerSecond });
        break;
      case 'reset':
      case 'blackhole':
      case 'partition':
        out.push({ ...base, workload, durationMs: length });
        break;
      case 'packet-loss':
        out.push({ ...base, workload, durationMs: length, percent: RANDOM_PARAMETERS.percent });
        break;
      case 'clock-skew':
        out.push({ ...base, workload, durationMs: length, offsetMs: RANDOM_PARAMETERS.offsetMs });
        break;
      default: {
        const never: never = fault;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
  }
  return out;
}

/** A short readable name: `kill foo/finance`, `policy-change to permissive`, `latency 150 ms on foo/finance:8080`. */
export function faultName(s: ChaosStep): string {
  const target = s.workload === undefined ? '' : ` ${s.workload}${s.port !== undefined ? `:${s.port}` : ''}`;
  switch (s.fault) {
    case 'policy-change':
      return `policy-change to ${s.policySet}`;
    case 'distribution-pause':
      return `distribution-pause${target} (update to ${s.policySet} withheld)`;
    case 'latency':
      return `latency ${s.latencyMs} ms on${target}`;
    case 'bandwidth':
      return `bandwidth ${s.bytesPerSecond} B/s on${target}`;
    case 'packet-loss':
      return `packet-loss ${s.percent}% on${target}`;
    case 'clock-skew':
      return `clock-skew ${s.offsetMs} ms on${target}`;
    case 'ca-rotation':
      return `ca-rotation${s.workload === undefined ? ' (every workload)' : target}`;
    default:
      return `${s.fault}${target}`;
  }
}
