// The reference sidecar's own effective-mode resolution (spec §2–§4), independent of src/oracle.
import { expect } from 'chai';
import { modeForPort, normalizePolicy, resolveModes, type PeerAuthentication } from '../../harness/reference/policy.mjs';
import type { PeerAuthenticationManifest } from '../../src/model/index.js';

const ROOT = 'istio-system';
const finance: { namespace: string; labels: Record<string, string> } = { namespace: 'foo', labels: { app: 'finance', version: 'v1' } };

function pa(namespace: string, name: string, spec: PeerAuthenticationManifest['spec'], creationTimestamp?: string): PeerAuthentication {
  return normalizePolicy(
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) },
      ...(spec ? { spec } : {}),
    },
    0,
  );
}

function modes(policies: PeerAuthentication[], port?: number, workload = finance, root = ROOT) {
  const r = resolveModes(workload, policies, root);
  return port === undefined ? r.mode : modeForPort(r, port);
}

describe('harness: reference policy resolution', function () {
  it('no policy at all is PERMISSIVE', function () {
    expect(modes([])).to.equal('PERMISSIVE');
  });

  it('a mesh policy applies in every namespace; a namespace policy overrides it; a workload policy overrides both', function () {
    const mesh = pa(ROOT, 'default', { mtls: { mode: 'STRICT' } });
    const ns = pa('foo', 'default', { mtls: { mode: 'DISABLE' } });
    const wl = pa('foo', 'finance', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'PERMISSIVE' } });
    expect(modes([mesh])).to.equal('STRICT');
    expect(modes([mesh, ns])).to.equal('DISABLE');
    expect(modes([mesh, ns, wl])).to.equal('PERMISSIVE');
    // lower levels override fully: no "most secure wins" (R4.2)
    expect(modes([pa(ROOT, 'm', { mtls: { mode: 'DISABLE' } }), pa('foo', 'n', { mtls: { mode: 'PERMISSIVE' } })])).to.equal('PERMISSIVE');
  });

  it('UNSET chains up to the parent, and to PERMISSIVE at the top (R4.1)', function () {
    expect(modes([pa(ROOT, 'm', { mtls: { mode: 'UNSET' } })])).to.equal('PERMISSIVE');
    expect(modes([pa(ROOT, 'm', { mtls: { mode: 'STRICT' } }), pa('foo', 'n', {}), pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } }, mtls: {} })])).to.equal(
      'STRICT',
    );
    expect(modes([pa(ROOT, 'm', undefined), pa('foo', 'n', { mtls: { mode: 'DISABLE' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } } })])).to.equal('DISABLE');
  });

  it('the oldest namespace-level policy wins; a missing timestamp is the oldest', function () {
    const newer = pa('foo', 'a-newer', { mtls: { mode: 'STRICT' } }, '2026-01-02T00:00:00Z');
    const older = pa('foo', 'z-older', { mtls: { mode: 'DISABLE' } }, '2026-01-01T00:00:00Z');
    expect(modes([newer, older])).to.equal('DISABLE');
    expect(modes([older, newer])).to.equal('DISABLE');
    const untimed = pa('foo', 'zz-untimed', { mtls: { mode: 'PERMISSIVE' } });
    expect(modes([newer, older, untimed])).to.equal('PERMISSIVE');
  });

  it('equal timestamps are broken by name (R3.3)', function () {
    const t = '2026-01-01T00:00:00Z';
    expect(modes([pa(ROOT, 'b', { mtls: { mode: 'STRICT' } }, t), pa(ROOT, 'a', { mtls: { mode: 'DISABLE' } }, t)])).to.equal('DISABLE');
    expect(
      modes([
        pa('foo', 'b', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } }),
        pa('foo', 'a', { selector: { matchLabels: { version: 'v1' } }, mtls: { mode: 'DISABLE' } }),
      ]),
    ).to.equal('DISABLE');
  });

  it('several workload policies: only the oldest applies, port maps are not merged (R3.2)', function () {
    const old = pa(
      'foo',
      'old',
      { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } },
      '2026-01-01T00:00:00Z',
    );
    const young = pa(
      'foo',
      'young',
      { selector: { matchLabels: { version: 'v1' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } },
      '2026-01-01T00:00:01Z',
    );
    expect(modes([young, old], 8080)).to.equal('DISABLE');
    expect(modes([young, old], 9090)).to.equal('STRICT');
    expect(modes([young, old], 1)).to.equal('STRICT');
  });

  it('selector policies in the root namespace are ignored (R2.3)', function () {
    const rootSelector = pa(ROOT, 'global', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } });
    expect(modes([rootSelector])).to.equal('PERMISSIVE');
    expect(modes([pa(ROOT, 'mesh', { mtls: { mode: 'DISABLE' } }), rootSelector])).to.equal('DISABLE');
    // also for a workload living in the root namespace itself
    expect(modes([rootSelector], undefined, { namespace: ROOT, labels: { app: 'finance' } })).to.equal('PERMISSIVE');
  });

  it('selectors are subset matches, exact and case-sensitive; selector: {} is namespace-level (R2.4, R2.5)', function () {
    expect(modes([pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } })])).to.equal('STRICT');
    expect(modes([pa('foo', 'w', { selector: { matchLabels: { app: 'finance', tier: 'db' } }, mtls: { mode: 'STRICT' } })])).to.equal('PERMISSIVE');
    expect(modes([pa('foo', 'w', { selector: { matchLabels: { app: 'Finance' } }, mtls: { mode: 'STRICT' } })])).to.equal('PERMISSIVE');
    expect(modes([pa('foo', 'empty', { selector: { matchLabels: {} }, mtls: { mode: 'STRICT' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } } })])).to.equal(
      'STRICT',
    );
    expect(modes([pa(ROOT, 'empty-root', { selector: {}, mtls: { mode: 'STRICT' } })])).to.equal('STRICT');
  });

  it('policies of other namespaces never apply', function () {
    expect(modes([pa('bar', 'default', { mtls: { mode: 'STRICT' } }), pa('bar', 'w', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'DISABLE' } })])).to.equal(
      'PERMISSIVE',
    );
  });

  it('an UNSET port inherits the already-inherited workload mode (R4.1 port level)', function () {
    const policies = [
      pa(ROOT, 'mesh', { mtls: { mode: 'STRICT' } }),
      pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } }, portLevelMtls: { '80': { mode: 'DISABLE' }, '90': { mode: 'UNSET' }, '100': {} } }),
    ];
    expect(modes(policies, 80)).to.equal('DISABLE');
    expect(modes(policies, 90)).to.equal('STRICT');
    expect(modes(policies, 100)).to.equal('STRICT');
    expect(modes(policies, 110)).to.equal('STRICT');
  });

  it('port-level entries come only from the chosen workload policy (R4.3)', function () {
    // Not admissible (no selector), but the data plane must not honour it either.
    const nsWithPorts = pa('foo', 'ns', { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } });
    expect(modes([nsWithPorts], 8080)).to.equal('STRICT');
  });

  it('the root namespace is the configured one', function () {
    const policies = [pa('istio-config', 'mesh', { mtls: { mode: 'STRICT' } }), pa(ROOT, 'not-root-here', { mtls: { mode: 'DISABLE' } })];
    expect(modes(policies, undefined, finance, 'istio-config')).to.equal('STRICT');
    expect(modes(policies, undefined, { namespace: ROOT, labels: {} }, 'istio-config')).to.equal('DISABLE');
  });

  it('reports which policy was chosen at each level', function () {
    const r = resolveModes(finance, [pa(ROOT, 'mesh', { mtls: { mode: 'STRICT' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } } })], ROOT);
    expect(r.chosen.mesh?.name).to.equal('mesh');
    expect(r.chosen.namespace).to.equal(null);
    expect(r.chosen.workload?.name).to.equal('w');
  });

  describe('manifest normalisation', function () {
    it('collapses every UNSET spelling (R1.2)', function () {
      for (const spec of [undefined, {}, { mtls: null }, { mtls: {} }, { mtls: { mode: 'UNSET' as const } }]) {
        expect(pa('foo', 'x', spec).mode).to.equal('UNSET');
      }
    });

    it('rejects unknown modes, bad ports and bad timestamps with a message naming the policy', function () {
      expect(() => pa('foo', 'x', { mtls: { mode: 'STRIKT' as never } })).to.throw(/policies\[0\] \(x\): spec\.mtls\.mode "STRIKT"/);
      expect(() => pa('foo', 'x', { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { '0': { mode: 'STRICT' } } })).to.throw(/key "0" is not a port/);
      expect(() => pa('foo', 'x', { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { abc: { mode: 'STRICT' } } })).to.throw(/key "abc" is not a port/);
      expect(() => pa('foo', 'x', {}, 'yesterday')).to.throw(/creationTimestamp "yesterday"/);
      expect(() => normalizePolicy({ kind: 'AuthorizationPolicy', metadata: { name: 'a' } }, 3)).to.throw(/policies\[3\]: kind is "AuthorizationPolicy"/);
    });
  });
});
