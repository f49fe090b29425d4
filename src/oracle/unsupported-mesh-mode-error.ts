import { MeshconformError } from '../util/errors.js';
import type { MeshMode } from '../model/index.js';

/** The oracle has no semantics for this mesh mode yet (ambient is a later issue). */
export class UnsupportedMeshModeError extends MeshconformError {
  readonly meshMode: MeshMode;
  constructor(meshMode: MeshMode, scenario: string) {
    super(`scenario ${scenario}: the oracle does not implement mesh mode '${meshMode}' yet (only 'sidecar' is supported)`);
    this.meshMode = meshMode;
  }
}
