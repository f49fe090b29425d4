import type { ClientKind, MeshMode, MtlsMode, PortProtocol } from '../model/index.js';
import { isHboneClient } from '../model/index.js';
import { ambientOutcome } from './ambient-outcome.js';
import { expectedOutcome } from './expected-outcome.js';
import type { OutcomeRule } from './expected-outcome.js';

/**
 * The expected outcome of one cell in a mesh mode: the sidecar table (spec §5) or the ambient one (§6). Undefined for
 * a client the mode never fires (HBONE in sidecar mode).
 */
export function outcomeFor(meshMode: MeshMode, mode: MtlsMode, protocol: PortProtocol, client: ClientKind): OutcomeRule | undefined {
  if (meshMode === 'ambient') return ambientOutcome(mode, client);
  return isHboneClient(client) ? undefined : expectedOutcome(mode, protocol, client);
}

/** A rule followed by the notes of the mode that decided it (ambient mapping, Istio caveats). */
export function ruleWithNotes(rule: string, notes: readonly string[] | undefined): string {
  return notes === undefined || notes.length === 0 ? rule : `${rule}; ${notes.join('; ')}`;
}
