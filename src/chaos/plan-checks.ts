import { FAULT_CAPABILITIES } from '../model/index.js';
import type { ChaosCapability, SourcePos, Workload, WorkloadKey } from '../model/index.js';
import type { ScheduledFault } from './schedule.js';
import { INITIAL_SET } from './schedule.js';
import type { CertValidity, ChaosCell, PolicySetView } from './types.js';
import { World } from './world.js';
import { terminatingCell } from './faults.js';

export interface PlanProblem {
  readonly message: string;
  readonly source: SourcePos;
}

/** Why a backend cannot run a schedule: the first fault needing a capability it lacks, per fault. */
export function missingCapabilities(schedule: readonly ScheduledFault[], backend: string, capabilities: readonly ChaosCapability[]): PlanProblem[] {
  const out: PlanProblem[] = [];
  for (const f of schedule) {
    const missing = FAULT_CAPABILITIES[f.fault].filter((c) => !capabilities.includes(c));
    if (missing.length === 0) continue;
    const random = f.generated !== undefined ? ` (generated fault ${f.generated + 1} of random)` : '';
    out.push({
      source: f.source,
      message: `fault ${f.fault}${random} needs ${missing.join(' and ')}, which the ${backend} backend cannot do; run it with a backend that can (${f.fault === 'packet-loss' ? '--backend netns' : 'see the README'}), or restrict the scenario with chaos.backends`,
    });
  }
  return out;
}

/**
 * Faults that could not show anything, found before anything starts: a policy change that changes no probed cell,
 * a certificate fault on a workload where no port terminates mTLS, a clock skew that flips no certificate validity.
 * Each would run and pass without proving a thing, so each is a scenario error.
 */
export function vacuousFaults(args: {
  schedule: readonly ScheduledFault[];
  workloads: readonly Workload[];
  cells: readonly ChaosCell[];
  sets: ReadonlyMap<string, PolicySetView>;
  clientValidity: Readonly<Record<'mesh' | 'expired', CertValidity>>;
  /** Epoch ms the run is expected to start at (skews are judged against the certificates' validity then). */
  startAt: number;
}): PlanProblem[] {
  const keys = args.workloads.map((w) => `${w.namespace}/${w.name}`);
  const world = new World(keys, args.sets, 0, args.startAt, args.clientValidity);
  const out: PlanProblem[] = [];
  const current = new Map(keys.map((w) => [w, INITIAL_SET]));
  const paused = new Map<WorkloadKey, string>();
  let delivered = INITIAL_SET;
  const changes = (w: WorkloadKey, from: string, to: string) => args.cells.some((c) => c.workload === w && world.expectation(from, c).outcome !== world.expectation(to, c).outcome);
  const events: { atMs: number; run: () => void }[] = [];
  for (const f of args.schedule) {
    const w = f.workload;
    switch (f.fault) {
      case 'policy-change':
        events.push({
          atMs: f.atMs,
          run: () => {
            const to = f.policySet!;
            const reached = keys.filter((x) => !paused.has(x));
            if (!reached.some((x) => changes(x, current.get(x)!, to))) {
              out.push({
                source: f.source,
                message: `policy-change to ${to} changes no probed cell (every probed cell has the same expected outcome under the policy set in force): it would prove nothing; probe more clients or change another policy`,
              });
            }
            for (const x of reached) current.set(x, to);
            delivered = to;
          },
        });
        break;
      case 'distribution-pause':
        events.push({
          atMs: f.atMs,
          run: () => {
            const to = f.policySet!;
            if (!changes(w!, current.get(w!)!, to)) {
              out.push({
                source: f.source,
                message: `distribution-pause of ${w}: policy set ${to} changes no probed cell of ${w}, so enforcing the old policy (fail-static) could not be told from taking the new one`,
              });
            }
            paused.set(w!, current.get(w!)!);
            for (const x of keys.filter((x) => !paused.has(x))) current.set(x, to);
            delivered = to;
          },
        });
        events.push({
          atMs: f.atMs + (f.durationMs ?? 0),
          run: () => {
            paused.delete(w!);
            current.set(w!, delivered);
          },
        });
        break;
      case 'cert-rotation':
      case 'cert-expiry':
      case 'ca-rotation':
        events.push({
          atMs: f.atMs,
          run: () => {
            for (const x of w !== undefined ? [w] : keys) {
              if (terminatingCell(world, args.workloads, x, current.get(x)!)) continue;
              out.push({
                source: f.source,
                message: `${f.fault} on ${x}: no port of ${x} terminates mTLS under the policy in force at ${f.atMs} ms (every port is DISABLE or refuses the mesh client), so the certificate the server presents cannot be observed`,
              });
            }
            if (
              f.fault === 'cert-expiry' &&
              !args.cells.some(
                (c) => c.workload === w && c.client !== 'tls-no-client-cert' && !c.client.startsWith('plaintext-') && world.expectation(current.get(w!)!, c).outcome === 'allow',
              )
            ) {
              out.push({
                source: f.source,
                message: `cert-expiry on ${w}: no probed cell of ${w} has mTLS terminated by the data plane, so no probe would see the certificate expire; add the mtls client`,
              });
            }
          },
        });
        break;
      case 'clock-skew':
        events.push({
          atMs: f.atMs,
          run: () => {
            const clock = args.startAt + f.atMs + f.offsetMs!;
            if (!args.cells.some((c) => c.workload === w && world.skewFlips(c, current.get(w!)!, clock))) {
              out.push({
                source: f.source,
                message: `clock-skew of ${f.offsetMs} ms on ${w} changes no probed cell: at that clock every probed client certificate keeps its validity (the mesh client's is valid from ${iso(args.clientValidity.mesh.notBefore)} to ${iso(args.clientValidity.mesh.notAfter)}, the expired client's from ${iso(args.clientValidity.expired.notBefore)} to ${iso(args.clientValidity.expired.notAfter)}); choose an offset outside one of them, and probe the mtls or mtls-expired client`,
              });
            }
          },
        });
        break;
      default:
        break;
    }
  }
  for (const e of events.sort((a, b) => a.atMs - b.atMs)) e.run();
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString();
