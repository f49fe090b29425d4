import type { DataPlaneSpec, Backend, Scenario } from '../model/index.js';
import { expectations } from '../oracle/index.js';
import { HarnessBugError } from '../util/errors.js';
import { dataPlaneFor } from './data-plane-for-mode.js';
import type { ChaosPreparation } from './chaos-driver.js';
import type { Unit } from './settle.js';

/** A unit with its chaos preparation (chaos scenarios only). */
export interface Planned extends Unit {
  readonly chaos: ChaosPreparation | undefined;
}

/**
 * Every scenario in each of its mesh modes, with the oracle's cells, or the typed reason this run skips it: the backend
 * cannot run it, or no data plane of the run implements the mode. An oracle exception is a bug, never a skip.
 */
export function planUnits(scenarios: readonly Scenario[], backend: Backend, dataPlane: DataPlaneSpec): Unit[] {
  return scenarios.flatMap((s) =>
    (s.mode === 'both' ? (['sidecar', 'ambient'] as const) : [s.mode]).map((m): Unit => {
      const unsupported = backend.unsupported?.(s, m);
      if (unsupported !== undefined) return { s, m, exps: [], dataPlane, skip: unsupported };
      const choice = dataPlaneFor(dataPlane, m);
      if ('skip' in choice) return { s, m, exps: [], dataPlane, skip: choice.skip };
      try {
        return { s, m, exps: expectations(s, m), dataPlane: choice.dataPlane };
      } catch (err) {
        throw new HarnessBugError(
          `the oracle failed on scenario ${s.name} (${s.file}) in ${m} mode: ${(err as Error).message}. This is a bug in meshconform; please report it with the scenario`,
        );
      }
    }),
  );
}

/** The run's one trust domain on a backend whose mesh has one, and the skip of a unit of another. */
export interface RunTrustDomain {
  readonly name: string;
  skipOf(u: Unit): Unit;
}

/**
 * One mesh has one trust domain: an installed mesh's own (read before anything is created), else the first runnable
 * scenario's. A scenario of another is never probed with certificates the mesh rejects.
 */
export async function chooseTrustDomain(backend: Backend, units: readonly Unit[], scenarios: readonly Scenario[]): Promise<RunTrustDomain> {
  const runnable = units.filter((u) => u.skip === undefined);
  const installed = runnable.length > 0 ? await backend.meshTrustDomain!() : undefined;
  const name = installed ?? runnable[0]?.s.trustDomain ?? scenarios[0]?.trustDomain ?? 'cluster.local';
  const why = (u: Unit) =>
    installed !== undefined
      ? `the mesh has trust domain ${installed} (meshConfig.trustDomain in its istio ConfigMap), the scenario ${u.s.trustDomain}: its workloads' certificates would name a trust domain the mesh rejects`
      : `the mesh of this run has trust domain ${name}, the scenario ${u.s.trustDomain} (run it separately with --grep)`;
  return { name, skipOf: (u) => (u.skip !== undefined || u.s.trustDomain === name ? u : { ...u, exps: [], skip: why(u) }) };
}
