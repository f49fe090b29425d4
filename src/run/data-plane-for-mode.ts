import type { DataPlaneSpec, MeshMode } from '../model/index.js';

/** The data plane that runs a scenario in `meshMode`, or why none of this run can. */
export type DataPlaneChoice = { readonly dataPlane: DataPlaneSpec } | { readonly skip: string };

export function meshModesOf(spec: DataPlaneSpec): readonly MeshMode[] {
  return spec.meshModes ?? ['sidecar'];
}

/**
 * The data plane itself when it implements the mode, else its companion (e.g. `reference` → the reference ambient
 * proxy), else a skip reason naming what would run it. A data plane that cannot run a mode is never probed in it:
 * every cell would be a harness error, not evidence about the mesh.
 */
export function dataPlaneFor(spec: DataPlaneSpec, meshMode: MeshMode): DataPlaneChoice {
  for (let dp: DataPlaneSpec | undefined = spec, depth = 0; dp !== undefined && depth < 4; dp = dp.companion, depth++) {
    if (meshModesOf(dp).includes(meshMode)) return { dataPlane: dp };
  }
  const hint = meshMode === 'ambient' ? '--data-plane reference-ambient (or a data plane that implements ambient mode)' : '--data-plane reference';
  // An exec: data plane says which modes it implements with --mesh-modes.
  const declare = spec.name.startsWith('exec:') ? `, or declare it with --mesh-modes if the command implements ${meshMode} mode` : '';
  return {
    skip: `data plane ${spec.name} does not implement ${meshMode} mode (it implements ${meshModesOf(spec).join(', ')}); run the ${meshMode} half with ${hint}${declare}`,
  };
}
