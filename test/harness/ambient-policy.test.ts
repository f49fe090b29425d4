// The reference ambient proxy's own resolver (harness/reference-ambient/ambient-policy.mjs) against every ambient
// vector transcribed from Istio's tests, and against the ambient rules of spec §6 case by case.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ambientModeForPort, normalizeAmbientPolicy, resolveAmbient } from '../../harness/reference-ambient/ambient-policy.mjs';
import { checkAmbientConfig } from '../../harness/reference-ambient/ambient-config.mjs';

interface Vector {
  readonly id: string;
  readonly mode: 'sidecar' | 'ambient';
  readonly root_namespace: string;
  readonly policies: { metadata: { name: string; namespace: string | null }; [k: string]: unknown }[];
  readonly workload: { namespace: string | null; labels: Record<string, string> };
  readonly port: number | null;
  readonly expected: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
}

const file = JSON.parse(readFileSync(new URL('../oracle/fixtures/istio-oracle-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const ambientVectors = file.vectors.filter((v) => v.mode === 'ambient');
/** Single-document vectors leave namespaces out: the policy lives in the workload's namespace. */
const DEFAULT_NS = 'test-ns';

type Manifest = Record<string, unknown>;
const pa = (namespace: string, name: string, spec: Record<string, unknown> | undefined, created?: string): Manifest => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace, ...(created ? { creationTimestamp: created } : {}) },
  ...(spec ? { spec } : {}),
});
interface Workload {
  readonly namespace: string;
  readonly labels: Record<string, string>;
}
const resolve = (manifests: Manifest[], workload: Workload = { namespace: 'foo', labels: { app: 'a' } }, root = 'istio-system') =>
  resolveAmbient(
    workload,
    manifests.map((m, i) => normalizeAmbientPolicy(m, i)),
    root,
  );
const port = (manifests: Manifest[], p: number, workload?: Workload) => ambientModeForPort(resolve(manifests, workload), p);

describe('reference ambient: effective modes', function () {
  it(`has the ${ambientVectors.length} ambient vectors of the spec`, function () {
    expect(ambientVectors.length).to.equal(39);
  });

  for (const v of ambientVectors) {
    it(`${v.id} → ${v.expected}`, function () {
      const ns = v.workload.namespace ?? DEFAULT_NS;
      const manifests = v.policies.map((p) => ({ ...p, metadata: { ...p.metadata, namespace: p.metadata.namespace ?? ns } }));
      const res = resolve(manifests, { namespace: ns, labels: v.workload.labels }, v.root_namespace);
      expect(v.port === null ? res.mode : ambientModeForPort(res, v.port)).to.equal(v.expected);
    });
  }

  describe('spec §6 rules', function () {
    it('no policy at all: PERMISSIVE (R6.9)', function () {
      expect(port([], 8080)).to.equal('PERMISSIVE');
    });

    for (const [level, manifests] of [
      ['mesh', [pa('istio-system', 'm', { mtls: { mode: 'DISABLE' } })]],
      ['namespace', [pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }), pa('foo', 'n', { mtls: { mode: 'DISABLE' } })]],
      ['workload', [pa('foo', 'n', { mtls: { mode: 'STRICT' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'DISABLE' } })]],
      ['port', [pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })]],
    ] as const) {
      it(`DISABLE at ${level} level behaves as PERMISSIVE (R6.5)`, function () {
        expect(port([...manifests], 8080)).to.equal('PERMISSIVE');
      });
    }

    it('a port UNSET under a DISABLE workload inherits PERMISSIVE, never DISABLE', function () {
      const res = resolve([
        pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'DISABLE' }, portLevelMtls: { 8080: { mode: 'UNSET' }, 9090: { mode: 'STRICT' } } }),
      ]);
      expect([ambientModeForPort(res, 8080), ambientModeForPort(res, 9090), ambientModeForPort(res, 7070)]).to.deep.equal(['PERMISSIVE', 'STRICT', 'PERMISSIVE']);
    });

    it('a root-namespace `selector: {}` policy is ignored, a selector-less one is the mesh policy (R2.5)', function () {
      expect(port([pa('istio-system', 'm', { selector: {}, mtls: { mode: 'STRICT' } })], 8080)).to.equal('PERMISSIVE');
      expect(port([pa('istio-system', 'm', { selector: { matchLabels: {} }, mtls: { mode: 'STRICT' } })], 8080)).to.equal('PERMISSIVE');
      expect(port([pa('istio-system', 'm', { mtls: { mode: 'STRICT' } })], 8080)).to.equal('STRICT');
    });

    it('a root-namespace label selector is ignored (R2.3)', function () {
      expect(port([pa('istio-system', 'm', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } })], 8080)).to.equal('PERMISSIVE');
    });

    it('a namespace `selector: {}` policy is namespace-level', function () {
      const ns = pa('foo', 'n', { selector: {}, mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00Z');
      const wl = pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' } }, '2024-06-01T00:00:00Z');
      expect(port([ns], 8080)).to.equal('STRICT');
      expect(port([ns, wl], 8080)).to.equal('PERMISSIVE');
    });

    it('policies of other namespaces never apply; selectors are subset matches', function () {
      expect(port([pa('bar', 'n', { mtls: { mode: 'STRICT' } })], 8080)).to.equal('PERMISSIVE');
      const sel = pa('foo', 'w', { selector: { matchLabels: { app: 'a', tier: 'x' } }, mtls: { mode: 'STRICT' } });
      expect(port([sel], 8080)).to.equal('PERMISSIVE');
      expect(port([sel], 8080, { namespace: 'foo', labels: { app: 'a', tier: 'x', more: 'y' } })).to.equal('STRICT');
    });

    it('the oldest workload policy wins, port maps are not merged; ties go by name', function () {
      const old = pa(
        'foo',
        'z-old',
        { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8080: { mode: 'STRICT' } } },
        '2024-01-01T00:00:00Z',
      );
      const young = pa(
        'foo',
        'a-young',
        { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' } } },
        '2024-02-01T00:00:00Z',
      );
      const res = resolve([young, old]);
      expect([res.mode, ambientModeForPort(res, 8080), ambientModeForPort(res, 9090)]).to.deep.equal(['PERMISSIVE', 'STRICT', 'PERMISSIVE']);
      const tieA = pa('foo', 'a', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00Z');
      const tieB = pa('foo', 'b', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' } }, '2024-01-01T00:00:00Z');
      expect(port([tieB, tieA], 8080)).to.equal('STRICT');
    });

    it('the specified semantics for the suspected R6.10 precedence case: the STRICT port stays STRICT', function () {
      const manifests = [
        pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }),
        pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8080: { mode: 'STRICT' } } }),
      ];
      expect([port(manifests, 8080), port(manifests, 9090)]).to.deep.equal(['STRICT', 'PERMISSIVE']);
    });
  });

  describe('bad input names the place', function () {
    it('an unknown mode', function () {
      expect(() => normalizeAmbientPolicy(pa('foo', 'x', { mtls: { mode: 'STRIKT' } }), 3)).to.throw(/policies\[3\] \(x\): spec\.mtls\.mode "STRIKT"/);
    });
    it('a bad port key', function () {
      expect(() => normalizeAmbientPolicy(pa('foo', 'x', { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { '0': { mode: 'STRICT' } } }), 0)).to.throw(
        /portLevelMtls key "0"/,
      );
    });
    it('a sidecar-mode config is refused, naming the data plane that serves it', function () {
      const config = {
        apiVersion: 'meshconform.dev/v1alpha1',
        workload: { name: 'a', namespace: 'foo', labels: {}, serviceAccount: 'a', address: '127.0.0.1', ports: [{ port: 8080, protocol: 'tcp' }] },
        app: { address: '127.0.0.1', ports: { '8080': 40000 } },
        mesh: { mode: 'sidecar', rootNamespace: 'istio-system', trustDomain: 'cluster.local' },
        tls: { certFile: '/c', keyFile: '/k', caFile: '/ca' },
        policies: [],
      };
      expect(() => checkAmbientConfig(config)).to.throw(/mesh\.mode is "sidecar"; the reference ambient proxy implements ambient mode only/);
      expect(() =>
        checkAmbientConfig({
          ...config,
          mesh: { ...config.mesh, mode: 'ambient' },
          workload: { ...config.workload, ports: [{ port: 15008, protocol: 'tcp' }] },
          app: { ...config.app, ports: { '15008': 40000 } },
        }),
      ).to.throw(/port 15008 is the node proxy's HBONE port/);
      expect(checkAmbientConfig({ ...config, mesh: { ...config.mesh, mode: 'ambient' } }).mesh.mode).to.equal('ambient');
    });
  });
});
