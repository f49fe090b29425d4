import type { DecidingPolicy, MtlsMode, Policy, PolicyLevel, PolicyMode, Scenario, Workload } from '../model/index.js';
import type { MeshModeResolver, ResolvedMode } from './mesh-mode-resolver.js';
import { oldestPolicy } from './policy-age.js';
import { isEmptySelector, selectorMatches } from './selector.js';

/** No policy at all, or UNSET at every level: PERMISSIVE (R6.9, R6.10 with R4.1). */
const HARD_DEFAULT: MtlsMode = 'PERMISSIVE';

interface ChosenPolicies {
  readonly mesh: Policy | undefined;
  readonly namespace: Policy | undefined;
  readonly workload: Policy | undefined;
  /** The root-namespace `selector: {}` policy sidecar mode would have taken as the mesh policy (R2.5). */
  readonly ignoredRootEmptySelector: Policy | undefined;
}

/**
 * Ambient selection (spec R2.3, R2.5, R3.1, R3.2): like sidecar mode, except that istiod only takes root-namespace
 * policies whose `selector` is absent, so a root `selector: {}` policy is no mesh policy (consequence 1). A namespace
 * `selector: {}` policy is still the namespace-level policy: convertedSelectorPeerAuthentications sees it.
 */
function choosePolicies(scenario: Scenario, workload: Workload): ChosenPolicies {
  const root = scenario.rootNamespace;
  const candidates = scenario.policies.filter((p) => (p.namespace === workload.namespace || p.namespace === root) && selectorMatches(p.selector, workload.labels));
  const meshLevel: Policy[] = [];
  const rootEmptySelector: Policy[] = [];
  const namespaceLevel: Policy[] = [];
  const workloadLevel: Policy[] = [];
  for (const p of candidates) {
    if (p.namespace === root) {
      if (p.selector === null) meshLevel.push(p);
      else if (isEmptySelector(p.selector)) rootEmptySelector.push(p);
      // Root-namespace selector policies are ignored in both modes (R2.3).
    } else if (isEmptySelector(p.selector)) namespaceLevel.push(p);
    else workloadLevel.push(p);
  }
  const mesh = oldestPolicy(meshLevel);
  const sidecarMesh = oldestPolicy([...meshLevel, ...rootEmptySelector]);
  return {
    mesh,
    namespace: oldestPolicy(namespaceLevel),
    workload: oldestPolicy(workloadLevel),
    ignoredRootEmptySelector: sidecarMesh !== undefined && sidecarMesh !== mesh ? sidecarMesh : undefined,
  };
}

function link(level: PolicyLevel, p: Policy): DecidingPolicy {
  return { level, namespace: p.namespace, name: p.name };
}

/** The mode in force and what set it, so a DISABLE read as PERMISSIVE can be named. */
interface Decision {
  readonly mode: MtlsMode;
  /** The level and policy whose explicit DISABLE became this PERMISSIVE; absent otherwise. */
  readonly disabledBy?: { readonly level: PolicyLevel; readonly policy: Policy };
}

/** R6.5: DISABLE behaves exactly as PERMISSIVE at every level; UNSET inherits (R6.10). */
function inherit(inherited: Decision, mode: PolicyMode | undefined, level: PolicyLevel, policy: Policy): Decision {
  if (mode === undefined || mode === 'UNSET') return inherited;
  if (mode === 'DISABLE') return { mode: 'PERMISSIVE', disabledBy: { level, policy } };
  return { mode };
}

function disableNote(d: Decision): string[] {
  if (d.disabledBy === undefined) return [];
  const { level, policy } = d.disabledBy;
  const what = level === 'port' ? 'portLevelMtls DISABLE' : 'DISABLE';
  return [`${what} of ${policy.namespace}/${policy.name} (${level}) is treated as PERMISSIVE in ambient (R6.5)`];
}

const PRECEDENCE_GAP_NOTE =
  "Istio is suspected to leave this STRICT port PERMISSIVE in ambient (R6.10: convertPeerAuthentication's condition #3 lacks the workload-UNSET guard); the oracle expects the specified STRICT";

/** R6.10's case: workload PERMISSIVE or DISABLE, namespace policy absent or UNSET, mesh STRICT, port STRICT. */
function precedenceGapSuspected(chosen: ChosenPolicies, portMode: PolicyMode): boolean {
  const w = chosen.workload?.mode;
  return (
    portMode === 'STRICT' &&
    (w === 'PERMISSIVE' || w === 'DISABLE') &&
    // A namespace `selector: {}` policy is invisible to the conversion (R2.5), like an absent one.
    (chosen.namespace === undefined || chosen.namespace.mode === 'UNSET' || chosen.namespace.selectorWritten) &&
    chosen.mesh?.mode === 'STRICT'
  );
}

/**
 * Ambient semantics, spec §6: the specified inheritance mesh → namespace → workload → port with UNSET inheriting
 * (R6.10), DISABLE as PERMISSIVE (R6.5), port keys on the destination (workload) port (R6.6), no PeerAuthentication
 * at all → PERMISSIVE (R6.9). Istio's suspected divergences (R6.10's precedence gap, the port-level merge that misses
 * a namespace `selector: {}` policy, R2.5) are not encoded: scenarios of the suite expose them on a real mesh.
 */
export const ambientResolver: MeshModeResolver = {
  resolve(scenario: Scenario, workload: Workload): ResolvedMode[] {
    const chosen = choosePolicies(scenario, workload);
    const baseNotes: string[] = [];
    if (scenario.policies.length === 0) {
      baseNotes.push('no PeerAuthentication exists at all, so istiod attaches no static STRICT policy (R6.9)');
    }
    const ignored = chosen.ignoredRootEmptySelector;
    if (ignored !== undefined) {
      baseNotes.push(`${ignored.namespace}/${ignored.name} is written with selector: {} in the root namespace, which ambient does not take as the mesh policy (R2.5)`);
    }
    const wl = chosen.workload;
    const ns = chosen.namespace;
    if (ns?.selectorWritten && wl !== undefined && wl.portLevelMtls.size > 0 && wl.mode === 'UNSET') {
      baseNotes.push(`${ns.namespace}/${ns.name} is written with selector: {}: Istio's ambient port-level merge does not see it (R2.5), so a real mesh may differ here`);
    }

    const decidedBy: DecidingPolicy[] = [];
    let decision: Decision = { mode: HARD_DEFAULT };
    for (const [level, p] of [
      ['mesh', chosen.mesh],
      ['namespace', ns],
      ['workload', wl],
    ] as const) {
      if (p === undefined) continue;
      decidedBy.push(link(level, p));
      decision = inherit(decision, p.mode, level, p);
    }
    const withNotes = (d: Decision, extra: readonly string[] = []): { notes?: readonly string[] } => {
      const notes = [...disableNote(d), ...baseNotes, ...extra];
      return notes.length > 0 ? { notes } : {};
    };
    const result: ResolvedMode[] = [{ port: null, mode: decision.mode, decidedBy, ...withNotes(decision) }];
    for (const { port } of workload.ports) {
      // The port is the destination port ztunnel sees, i.e. the workload port (R6.6); only the chosen workload
      // policy's portLevelMtls counts (R3.2, R4.3), and an UNSET entry keeps the workload mode.
      const portMode = wl?.portLevelMtls.get(port);
      if (wl === undefined || portMode === undefined) {
        result.push({ port, mode: decision.mode, decidedBy, ...withNotes(decision) });
      } else {
        const d = inherit(decision, portMode, 'port', wl);
        const gap = precedenceGapSuspected(chosen, portMode) ? [PRECEDENCE_GAP_NOTE] : [];
        result.push({ port, mode: d.mode, decidedBy: [...decidedBy, link('port', wl)], ...withNotes(d, gap) });
      }
    }
    return result;
  },
};
