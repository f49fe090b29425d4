// Test-side builders: model objects straight from manifests, so oracle tests do not depend on the loader.
import { POLICY_MODES } from '../../src/model/index.js';
import type { ExpectEntry, MtlsMode, PeerAuthenticationManifest, Policy, PolicyMode, PortProtocol, Scenario, ScenarioMode, SourcePos, Workload } from '../../src/model/index.js';

const TEST_POS: SourcePos = { file: 'test', line: 1, column: 1 };

/** Every UNSET spelling (R1.2): missing, null, `{}`, `{mode: UNSET}`. */
function policyMode(entry: { mode?: unknown } | null | undefined): PolicyMode {
  const mode = entry?.mode ?? 'UNSET';
  if (!(POLICY_MODES as readonly unknown[]).includes(mode)) throw new Error(`unknown mTLS mode ${String(mode)}`);
  return mode as PolicyMode;
}

export interface PolicyOptions {
  /** Namespace for a manifest without one (or with ""). */
  readonly defaultNamespace?: string;
  /** Rewrites a non-RFC 3339 creationTimestamp (e.g. the vectors' T0 notation). */
  readonly timestamp?: (raw: string) => string;
  readonly source?: SourcePos;
}

export function policyFromManifest(manifest: PeerAuthenticationManifest, opts: PolicyOptions = {}): Policy {
  const namespace = manifest.metadata.namespace || opts.defaultNamespace || 'default';
  const raw = manifest.metadata.creationTimestamp;
  const creationTimestamp = raw === undefined ? undefined : (opts.timestamp ?? ((x: string) => x))(raw);
  const spec = manifest.spec ?? {};
  const selectorWritten = spec.selector !== undefined && spec.selector !== null;
  const portLevelMtls = new Map<number, PolicyMode>();
  for (const [k, v] of Object.entries(spec.portLevelMtls ?? {})) portLevelMtls.set(Number(k), policyMode(v));
  return {
    name: manifest.metadata.name,
    namespace,
    ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
    selector: selectorWritten ? { ...(spec.selector?.matchLabels ?? {}) } : null,
    selectorWritten,
    mode: policyMode(spec.mtls),
    portLevelMtls,
    manifest: { ...manifest, metadata: { ...manifest.metadata, namespace } },
    source: opts.source ?? TEST_POS,
  };
}

/** Short manifest builder for unit tests. */
export function pa(namespace: string, name: string, spec: PeerAuthenticationManifest['spec'] & object, creationTimestamp?: string): Policy {
  return policyFromManifest({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace, ...(creationTimestamp === undefined ? {} : { creationTimestamp }) },
    spec,
  });
}

export type PortSpec = number | { port: number; protocol?: PortProtocol };

export function workload(namespace: string, name: string, labels: Record<string, string>, ports: readonly PortSpec[]): Workload {
  return {
    name,
    namespace,
    labels,
    serviceAccount: name,
    ports: ports.map((p) => (typeof p === 'number' ? { port: p, protocol: 'tcp' } : { port: p.port, protocol: p.protocol ?? 'tcp' })),
    source: TEST_POS,
  };
}

export function scenario(parts: {
  name?: string;
  rootNamespace?: string;
  mode?: ScenarioMode;
  workloads: readonly Workload[];
  policies?: readonly Policy[];
  expect?: readonly ExpectEntry[];
}): Scenario {
  return {
    name: parts.name ?? 'test',
    file: 'test.yaml',
    feature: 'test',
    labels: {},
    description: '',
    mode: parts.mode ?? 'sidecar',
    rootNamespace: parts.rootNamespace ?? 'istio-system',
    trustDomain: 'cluster.local',
    workloads: parts.workloads,
    policies: parts.policies ?? [],
    expect: parts.expect ?? [],
    warnings: [],
    source: TEST_POS,
  };
}

export function expectEntry(workloadKey: string, fields: { port?: number; mode?: MtlsMode; outcomes?: Record<string, 'allow' | 'passthrough' | 'deny'> }, line = 1): ExpectEntry {
  return {
    workload: workloadKey,
    ...(fields.port === undefined ? {} : { port: fields.port }),
    ...(fields.mode === undefined ? {} : { mode: fields.mode }),
    outcomes: fields.outcomes ?? {},
    source: { file: 'test.yaml', line, column: 7 },
  };
}
