import type { DecidingPolicy, MtlsMode, Policy, PolicyLevel, PolicyMode, Scenario, Workload } from '../model/index.js';
import type { MeshModeResolver, ResolvedMode } from './mesh-mode-resolver.js';
import { oldestPolicy } from './policy-age.js';
import { isEmptySelector, selectorMatches } from './selector.js';

/** UNSET at every level (or no policy at all) ends in PERMISSIVE (spec R1.1, R4.1). */
const HARD_DEFAULT: MtlsMode = 'PERMISSIVE';

/** The policies chosen at each level for one workload (spec §4, Istio's ComposePeerAuthentication). */
interface ChosenPolicies {
  readonly mesh: Policy | undefined;
  readonly namespace: Policy | undefined;
  readonly workload: Policy | undefined;
}

function choosePolicies(scenario: Scenario, workload: Workload): ChosenPolicies {
  const root = scenario.rootNamespace;
  // Candidates: the workload's namespace and the root namespace only, selector ⊆ labels (R2.4).
  const candidates = scenario.policies.filter((p) => (p.namespace === workload.namespace || p.namespace === root) && selectorMatches(p.selector, workload.labels));
  const meshLevel: Policy[] = [];
  const namespaceLevel: Policy[] = [];
  const workloadLevel: Policy[] = [];
  for (const p of candidates) {
    if (isEmptySelector(p.selector)) (p.namespace === root ? meshLevel : namespaceLevel).push(p);
    else if (p.namespace !== root) workloadLevel.push(p); // selector policies in the root namespace are ignored (R2.3)
  }
  return { mesh: oldestPolicy(meshLevel), namespace: oldestPolicy(namespaceLevel), workload: oldestPolicy(workloadLevel) };
}

function link(level: PolicyLevel, p: Policy): DecidingPolicy {
  return { level, namespace: p.namespace, name: p.name };
}

/** A lower level's explicit mode fully replaces the inherited one; UNSET keeps it (R4.1, R4.2). */
function inherit(inherited: MtlsMode, mode: PolicyMode | undefined): MtlsMode {
  return mode === undefined || mode === 'UNSET' ? inherited : mode;
}

/** Sidecar semantics, spec §2–§4 (policy_applier.go ComposePeerAuthentication + GetMutualTLSModeForPort). */
export const sidecarResolver: MeshModeResolver = {
  resolve(scenario: Scenario, workload: Workload): ResolvedMode[] {
    const chosen = choosePolicies(scenario, workload);
    const decidedBy: DecidingPolicy[] = [];
    let mode: MtlsMode = HARD_DEFAULT;
    // A chosen policy is listed even when UNSET: it was consulted and passed the inherited mode on.
    for (const [level, p] of [
      ['mesh', chosen.mesh],
      ['namespace', chosen.namespace],
      ['workload', chosen.workload],
    ] as const) {
      if (p === undefined) continue;
      decidedBy.push(link(level, p));
      mode = inherit(mode, p.mode);
    }
    const result: ResolvedMode[] = [{ port: null, mode, decidedBy }];
    const wl = chosen.workload;
    for (const { port } of workload.ports) {
      // portLevelMtls only from the chosen workload policy (R3.2, R4.3); an UNSET port keeps the workload mode.
      const portMode = wl?.portLevelMtls.get(port);
      if (wl === undefined || portMode === undefined) {
        result.push({ port, mode, decidedBy });
      } else {
        result.push({ port, mode: inherit(mode, portMode), decidedBy: [...decidedBy, link('port', wl)] });
      }
    }
    return result;
  },
};
