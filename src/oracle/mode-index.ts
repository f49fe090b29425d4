import type { EffectiveMode, WorkloadKey } from '../model/index.js';

/** Lookup of effective modes by workload and port (`null` = workload level). */
export class ModeIndex {
  readonly #byKey = new Map<string, EffectiveMode>();

  constructor(modes: readonly EffectiveMode[]) {
    for (const m of modes) this.#byKey.set(ModeIndex.#key(m.workload, m.port), m);
  }

  static #key(workload: WorkloadKey, port: number | null): string {
    return `${workload}|${port ?? '*'}`;
  }

  get(workload: WorkloadKey, port: number | null): EffectiveMode | undefined {
    return this.#byKey.get(ModeIndex.#key(workload, port));
  }
}
