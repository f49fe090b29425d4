// Test-side builders: turn manifests / YAML into model objects without the scenario loader (written in parallel).
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isSeq } from 'yaml';
import { POLICY_MODES } from '../../src/model/index.js';
import type {
  ExpectEntry,
  MtlsMode,
  PeerAuthenticationManifest,
  Policy,
  PolicyMode,
  PortProtocol,
  Scenario,
  ScenarioMode,
  SourcePos,
  Workload,
} from '../../src/model/index.js';

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
export function pa(
  namespace: string,
  name: string,
  spec: PeerAuthenticationManifest['spec'] & object,
  creationTimestamp?: string,
): Policy {
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

export function expectEntry(
  workloadKey: string,
  fields: { port?: number; mode?: MtlsMode; outcomes?: Record<string, 'allow' | 'passthrough' | 'deny'> },
  line = 1,
): ExpectEntry {
  return {
    workload: workloadKey,
    ...(fields.port === undefined ? {} : { port: fields.port }),
    ...(fields.mode === undefined ? {} : { mode: fields.mode }),
    outcomes: fields.outcomes ?? {},
    source: { file: 'test.yaml', line, column: 7 },
  };
}

// ---- Scenario YAML (DESIGN §3), a minimal converter for the built-in suite test ----

interface RawWorkload {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  ports: (number | { port: number; protocol?: PortProtocol })[];
}

interface RawScenario {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    description?: string;
    mode?: ScenarioMode;
    rootNamespace?: string;
    trustDomain?: string;
    workloads: RawWorkload[];
    policies?: PeerAuthenticationManifest[];
    expect?: Record<string, unknown>[];
  };
}

/** Parses one scenario file into a Scenario (no validation beyond what the tests need). */
export function scenarioFromYamlFile(file: string, defaultFeature: string): { scenario: Scenario; raw: RawScenario } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter });
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
  const raw = doc.toJS() as RawScenario;
  const pos = (offset: number | undefined): SourcePos => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line, column: col };
  };
  const expectNode = doc.getIn(['spec', 'expect'], true);
  const expectPos = isSeq(expectNode) ? expectNode.items.map((n) => pos((n as { range?: [number] }).range?.[0])) : [];
  const policyNode = doc.getIn(['spec', 'policies'], true);
  const policyPos = isSeq(policyNode) ? policyNode.items.map((n) => pos((n as { range?: [number] }).range?.[0])) : [];

  const s = raw.spec;
  const scenarioValue: Scenario = {
    name: raw.metadata.name,
    file,
    feature: raw.metadata.labels?.['feature'] ?? defaultFeature,
    labels: raw.metadata.labels ?? {},
    description: s.description ?? '',
    mode: s.mode ?? 'sidecar',
    rootNamespace: s.rootNamespace ?? 'istio-system',
    trustDomain: s.trustDomain ?? 'cluster.local',
    workloads: s.workloads.map((w) => ({
      ...workload(w.namespace, w.name, w.labels ?? {}, w.ports),
      serviceAccount: w.serviceAccount ?? w.name,
      source: { file, line: 1, column: 1 },
    })),
    policies: (s.policies ?? []).map((m, i) => policyFromManifest(m, { source: policyPos[i] ?? pos(0) })),
    expect: (s.expect ?? []).map((e, i) => {
      const { workload: wk, port, mode, ...outcomes } = e;
      return {
        workload: String(wk),
        ...(port === undefined ? {} : { port: Number(port) }),
        ...(mode === undefined ? {} : { mode: mode as MtlsMode }),
        outcomes: outcomes as Record<string, 'allow' | 'passthrough' | 'deny'>,
        source: expectPos[i] ?? pos(0),
      };
    }),
    warnings: [],
    source: pos(0),
  };
  return { scenario: scenarioValue, raw };
}
