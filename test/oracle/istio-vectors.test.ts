// Every sidecar effective-mode vector transcribed from Istio's own tests (spec/istio-oracle-vectors.json, copied
// into fixtures/ so the test does not depend on a path outside the repository).
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { effectiveModes, expectations } from '../../src/oracle/index.js';
import type { MtlsMode, PeerAuthenticationManifest } from '../../src/model/index.js';
import { policyFromManifest, scenario, workload } from './helpers.js';

interface Vector {
  id: string;
  source: string;
  root_namespace: string;
  mode: 'sidecar' | 'ambient';
  policies: PeerAuthenticationManifest[];
  workload: { namespace: string | null; labels: Record<string, string> };
  port: number | null;
  expected: MtlsMode;
  expected_selected_policies?: string[];
  reachability?: { uncaptured_plaintext_client: 'allow' | 'deny'; mesh_client_via_hbone_with_identity: 'allow' | 'deny' };
  note?: string;
}

const file = JSON.parse(readFileSync(new URL('./fixtures/istio-oracle-vectors.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
};
const sidecarVectors = file.vectors.filter((v) => v.mode === 'sidecar');
const ambientVectors = file.vectors.filter((v) => v.mode === 'ambient');

/**
 * TestInboundMTLSSettings feeds policies with empty metadata (namespace "") to a proxy without a namespace; the
 * vector notes say the workload (namespace null) is in the same namespace as those policies, which is not the root
 * namespace. Both map to this namespace.
 */
const DEFAULT_NAMESPACE = 'default';

/** The vectors write time.Now()-based timestamps as 'T0 (time.Now() in test)', 'T0-1s', 'T0+1s'. */
const T0_MS = Date.parse('2024-06-01T12:00:00Z');

function vectorTimestamp(raw: string): string {
  const m = /^T0\s*(?:([+-])\s*(\d+)s)?\s*(?:\(.*\))?$/.exec(raw.trim());
  if (m === null) {
    if (Number.isNaN(Date.parse(raw))) throw new Error(`unreadable vector timestamp ${raw}`);
    return raw;
  }
  const offsetS = m[2] === undefined ? 0 : Number(m[2]) * (m[1] === '-' ? -1 : 1);
  return new Date(T0_MS + offsetS * 1000).toISOString();
}

/**
 * Vectors that cannot apply to this model, with the reason. Empty: every sidecar vector applies. (The waypoint /
 * WithService vectors also search the Service's namespace, which the model cannot express; they still apply because
 * that namespace, bar, holds no policy in the source test, so the result depends only on the workload and root
 * namespaces.)
 */
const EXCLUDED: Readonly<Record<string, string>> = {};

describe('oracle: Istio sidecar vectors', () => {
  it('covers the 42 sidecar vectors of the file (and the 39 ambient ones below)', () => {
    expect(file.vectors).to.have.length(81);
    expect(sidecarVectors).to.have.length(42);
    expect(ambientVectors).to.have.length(39);
  });

  it('excludes a small, fixed set of vectors, each with a reason', () => {
    expect(Object.keys(EXCLUDED)).to.have.length(0);
    for (const id of Object.keys(EXCLUDED)) expect(sidecarVectors.map((v) => v.id)).to.include(id);
  });

  for (const v of sidecarVectors) {
    if (v.id in EXCLUDED) continue;
    const where = v.port === null ? 'workload level' : `port ${v.port}`;
    it(`${v.id} (${where}) → ${v.expected}`, () => {
      const ns = v.workload.namespace ?? DEFAULT_NAMESPACE;
      const s = scenario({
        name: v.id,
        rootNamespace: v.root_namespace,
        workloads: [workload(ns, 'under-test', v.workload.labels, v.port === null ? [] : [v.port])],
        policies: v.policies.map((m) => policyFromManifest(m, { defaultNamespace: DEFAULT_NAMESPACE, timestamp: vectorTimestamp })),
      });
      const modes = effectiveModes(s, 'sidecar');
      const entry = modes.find((m) => m.port === v.port);
      expect(entry, 'an effective mode for the vector port').to.not.equal(undefined);
      expect(entry?.mode, v.note ?? v.source).to.equal(v.expected);
      // Where the source asserts which policies were selected, the chosen ones must be exactly those.
      if (v.expected_selected_policies !== undefined) {
        const chosen = (entry?.decidedBy ?? []).filter((d) => d.level !== 'port').map((d) => `${d.namespace}/${d.name}`);
        expect(chosen).to.have.members(v.expected_selected_policies);
      }
    });
  }
});

/**
 * Ambient vectors (TestRBACConvert) that cannot apply to this model, with the reason. Empty: every one applies. Their
 * single-document inputs have policies without a namespace and TestRBACConvert passes no namespace or mesh policy;
 * the workload (namespace null) then shares the policies' namespace, which DEFAULT_NAMESPACE expresses exactly.
 */
const EXCLUDED_AMBIENT: Readonly<Record<string, string>> = {};

/** A declared port that no vector's portLevelMtls names: its mode is the workload-level one (`port: null` vectors). */
const OTHER_PORT = 12345;

describe('oracle: Istio ambient vectors', () => {
  it('excludes a small, fixed set of ambient vectors, each with a reason', () => {
    expect(Object.keys(EXCLUDED_AMBIENT)).to.have.length(0);
    for (const id of Object.keys(EXCLUDED_AMBIENT)) expect(ambientVectors.map((v) => v.id)).to.include(id);
    for (const v of ambientVectors) {
      for (const p of v.policies) expect(Object.keys(p.spec?.portLevelMtls ?? {}), v.id).to.not.include(String(OTHER_PORT));
    }
  });

  for (const v of ambientVectors) {
    if (v.id in EXCLUDED_AMBIENT) continue;
    const where = v.port === null ? 'other ports' : `port ${v.port}`;
    it(`${v.id} (${where}) → ${v.expected}; uncaptured plaintext ${v.reachability?.uncaptured_plaintext_client}, HBONE ${v.reachability?.mesh_client_via_hbone_with_identity}`, () => {
      const ns = v.workload.namespace ?? DEFAULT_NAMESPACE;
      const port = v.port ?? OTHER_PORT;
      const s = scenario({
        name: v.id,
        mode: 'ambient',
        rootNamespace: v.root_namespace,
        workloads: [workload(ns, 'under-test', v.workload.labels, [port])],
        policies: v.policies.map((m) => policyFromManifest(m, { defaultNamespace: DEFAULT_NAMESPACE, timestamp: vectorTimestamp })),
      });
      const modes = effectiveModes(s, 'ambient');
      const entry = modes.find((m) => m.port === port);
      expect(entry, 'an effective mode for the vector port').to.not.equal(undefined);
      expect(entry?.mode, v.note ?? v.source).to.equal(v.expected);
      // A port without its own entry has the workload-level mode.
      if (v.port === null) expect(modes.find((m) => m.port === null)?.mode).to.equal(v.expected);
      // The data-plane reachability the source derives from the converted DENY policy.
      if (v.reachability !== undefined) {
        const plaintext = expectations(s, 'ambient').find((e) => e.client === 'plaintext-tcp')?.outcome;
        const hbone = expectations(s, 'ambient').find((e) => e.client === 'hbone')?.outcome;
        expect(plaintext).to.equal(v.reachability.uncaptured_plaintext_client);
        expect(hbone).to.equal(v.reachability.mesh_client_via_hbone_with_identity);
      }
    });
  }
});
