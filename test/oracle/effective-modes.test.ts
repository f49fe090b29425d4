import { expect } from 'chai';
import { effectiveModes, comparePolicyAge } from '../../src/oracle/index.js';
import { ScenarioError } from '../../src/util/errors.js';
import { pa, scenario, workload } from './helpers.js';

const finance = workload('foo', 'finance', { app: 'finance', tier: 'backend' }, [8080, { port: 9090, protocol: 'http' }, 7070]);

function modesOf(s: ReturnType<typeof scenario>) {
  return effectiveModes(s, 'sidecar').map((m) => [m.workload, m.port, m.mode]);
}

describe('oracle: effectiveModes (sidecar)', () => {
  it('gives one workload-level entry then one per declared port, in order, with scenario and mesh mode', () => {
    const s = scenario({ name: 'sc', workloads: [finance, workload('bar', 'web', {}, [8000])] });
    const modes = effectiveModes(s, 'sidecar');
    expect(modes.map((m) => [m.workload, m.port])).to.deep.equal([
      ['foo/finance', null],
      ['foo/finance', 8080],
      ['foo/finance', 9090],
      ['foo/finance', 7070],
      ['bar/web', null],
      ['bar/web', 8000],
    ]);
    for (const m of modes) {
      expect(m.scenario).to.equal('sc');
      expect(m.meshMode).to.equal('sidecar');
      expect(m.mode).to.equal('PERMISSIVE');
      expect(m.decidedBy).to.deep.equal([]);
    }
  });

  it('builds the full decidedBy chain mesh → namespace → workload → port, including UNSET links', () => {
    const s = scenario({
      workloads: [finance],
      policies: [
        pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }),
        pa('foo', 'ns', { mtls: { mode: 'UNSET' } }),
        pa('foo', 'wl', { selector: { matchLabels: { app: 'finance' } }, portLevelMtls: { '8080': { mode: 'DISABLE' }, '9090': {} } }),
      ],
    });
    const modes = effectiveModes(s, 'sidecar');
    const chain = [
      { level: 'mesh', namespace: 'istio-system', name: 'mesh' },
      { level: 'namespace', namespace: 'foo', name: 'ns' },
      { level: 'workload', namespace: 'foo', name: 'wl' },
    ];
    const port = { level: 'port', namespace: 'foo', name: 'wl' };
    expect(modes.map((m) => [m.port, m.mode, m.decidedBy])).to.deep.equal([
      [null, 'STRICT', chain],
      [8080, 'DISABLE', [...chain, port]],
      [9090, 'STRICT', [...chain, port]], // `{}` port entry: inherits, but the entry still covers the port
      [7070, 'STRICT', chain],
    ]);
  });

  it('ends the UNSET chain port → workload → namespace → mesh in PERMISSIVE', () => {
    const s = scenario({
      workloads: [finance],
      policies: [
        pa('istio-system', 'mesh', {}),
        pa('foo', 'ns', { mtls: {} }),
        pa('foo', 'wl', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'UNSET' }, portLevelMtls: { '8080': { mode: 'UNSET' } } }),
      ],
    });
    expect(modesOf(s).map((m) => m[2])).to.deep.equal(['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE']);
  });

  it('lets lower levels override fully in both directions (R4.2)', () => {
    const under = (meshMode: string, nsMode: string | undefined, wlMode: string | undefined) =>
      effectiveModes(
        scenario({
          workloads: [finance],
          policies: [
            pa('istio-system', 'm', { mtls: { mode: meshMode as 'STRICT' } }),
            ...(nsMode ? [pa('foo', 'n', { mtls: { mode: nsMode as 'STRICT' } })] : []),
            ...(wlMode ? [pa('foo', 'w', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: wlMode as 'STRICT' } })] : []),
          ],
        }),
        'sidecar',
      )[0]?.mode;
    expect(under('STRICT', 'PERMISSIVE', undefined)).to.equal('PERMISSIVE');
    expect(under('DISABLE', undefined, 'STRICT')).to.equal('STRICT');
    expect(under('STRICT', 'STRICT', 'DISABLE')).to.equal('DISABLE');
    expect(under('DISABLE', 'STRICT', 'PERMISSIVE')).to.equal('PERMISSIVE');
  });

  it('picks the oldest policy at each level; a missing timestamp is the oldest', () => {
    const s = scenario({
      workloads: [finance],
      policies: [
        pa('istio-system', 'a-newer-mesh', { mtls: { mode: 'DISABLE' } }, '2024-01-02T00:00:00Z'),
        pa('istio-system', 'z-older-mesh', { mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00Z'),
        pa('foo', 'a-with-ts', { mtls: { mode: 'DISABLE' } }, '1970-01-01T00:00:01Z'),
        pa('foo', 'z-no-ts', { mtls: { mode: 'UNSET' } }),
      ],
    });
    const [wl] = effectiveModes(s, 'sidecar');
    expect(wl?.mode).to.equal('STRICT');
    expect(wl?.decidedBy.map((d) => d.name)).to.deep.equal(['z-older-mesh', 'z-no-ts']);
  });

  it('breaks a timestamp tie by name, at mesh, namespace and workload level (R3.1)', () => {
    const ts = '2024-01-01T00:00:00Z';
    const s = scenario({
      workloads: [finance],
      policies: [
        pa('istio-system', 'mesh-b', { mtls: { mode: 'DISABLE' } }, ts),
        pa('istio-system', 'mesh-a', { mtls: { mode: 'STRICT' } }, ts),
        pa('foo', 'ns-b', { mtls: { mode: 'STRICT' } }, ts),
        pa('foo', 'ns-a', { mtls: { mode: 'UNSET' } }, ts),
        pa('foo', 'wl-b', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } }, ts),
        pa('foo', 'wl-a', { selector: { matchLabels: { tier: 'backend' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '7070': { mode: 'DISABLE' } } }, ts),
      ],
    });
    const modes = effectiveModes(s, 'sidecar');
    expect(modes[0]?.decidedBy.map((d) => d.name)).to.deep.equal(['mesh-a', 'ns-a', 'wl-a']);
    expect(modes.map((m) => m.mode)).to.deep.equal(['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE', 'DISABLE']);
  });

  it('orders equal timestamps and names by namespace, and compares names by code unit, not locale', () => {
    const a = pa('aaa', 'x', {}, '2024-01-01T00:00:00Z');
    const b = pa('bbb', 'x', {}, '2024-01-01T00:00:00Z');
    expect(comparePolicyAge(a, b)).to.be.lessThan(0);
    expect(comparePolicyAge(pa('n', 'Zeta', {}), pa('n', 'alpha', {}))).to.be.lessThan(0);
  });

  it('does not merge the losing workload policy port map (istio#48036)', () => {
    const s = scenario({
      workloads: [finance],
      policies: [
        pa('foo', 'older', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } }, '2024-01-01T00:00:00Z'),
        pa('foo', 'newer', { selector: { matchLabels: { tier: 'backend' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } }, '2024-01-01T00:00:01Z'),
      ],
    });
    expect(modesOf(s)).to.deep.equal([
      ['foo/finance', null, 'STRICT'],
      ['foo/finance', 8080, 'DISABLE'],
      ['foo/finance', 9090, 'STRICT'],
      ['foo/finance', 7070, 'STRICT'],
    ]);
  });

  it('ignores root-namespace selector policies, even matching ones (R2.3)', () => {
    const s = scenario({
      workloads: [finance],
      policies: [pa('istio-system', 'global-finance', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } })],
    });
    expect(effectiveModes(s, 'sidecar')[0]).to.include({ mode: 'PERMISSIVE' });
    expect(effectiveModes(s, 'sidecar')[0]?.decidedBy).to.deep.equal([]);
  });

  it('treats selector {} as namespace level, and as mesh level in the root namespace (R2.5)', () => {
    const s = scenario({
      workloads: [finance],
      policies: [pa('istio-system', 'mesh', { selector: { matchLabels: {} }, mtls: { mode: 'STRICT' } }), pa('foo', 'ns', { selector: {}, mtls: { mode: 'DISABLE' } })],
    });
    expect(effectiveModes(s, 'sidecar')[0]?.decidedBy).to.deep.equal([
      { level: 'mesh', namespace: 'istio-system', name: 'mesh' },
      { level: 'namespace', namespace: 'foo', name: 'ns' },
    ]);
    expect(effectiveModes(s, 'sidecar')[0]?.mode).to.equal('DISABLE');
  });

  it('matches selectors as a case-sensitive subset of the labels, within the workload namespace only', () => {
    const s = scenario({
      workloads: [
        workload('foo', 'full', { app: 'finance', version: 'v1', extra: 'x' }, [8080]),
        workload('foo', 'partial', { app: 'finance' }, [8080]),
        workload('foo', 'case', { app: 'Finance', version: 'v1' }, [8080]),
        workload('bar', 'other-ns', { app: 'finance', version: 'v1' }, [8080]),
      ],
      policies: [pa('foo', 'sel', { selector: { matchLabels: { app: 'finance', version: 'v1' } }, mtls: { mode: 'STRICT' } })],
    });
    expect(
      effectiveModes(s, 'sidecar')
        .filter((m) => m.port === null)
        .map((m) => [m.workload, m.mode]),
    ).to.deep.equal([
      ['foo/full', 'STRICT'],
      ['foo/partial', 'PERMISSIVE'],
      ['foo/case', 'PERMISSIVE'],
      ['bar/other-ns', 'PERMISSIVE'],
    ]);
  });

  it('gives a workload in the root namespace only the mesh policy', () => {
    const s = scenario({
      workloads: [workload('istio-system', 'gw', { app: 'gw' }, [8443])],
      policies: [pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }), pa('istio-system', 'gw', { selector: { matchLabels: { app: 'gw' } }, mtls: { mode: 'DISABLE' } })],
    });
    expect(modesOf(s)).to.deep.equal([
      ['istio-system/gw', null, 'STRICT'],
      ['istio-system/gw', 8443, 'STRICT'],
    ]);
  });

  it('honours a custom root namespace; istio-system is then an ordinary namespace', () => {
    const s = scenario({
      rootNamespace: 'istio-config',
      workloads: [finance],
      policies: [pa('istio-system', 'not-mesh', { mtls: { mode: 'STRICT' } }), pa('istio-config', 'mesh', { mtls: { mode: 'DISABLE' } })],
    });
    expect(effectiveModes(s, 'sidecar')[0]).to.include({ mode: 'DISABLE' });
  });

  it('ignores portLevelMtls keys the workload does not declare, and the policy name "default"', () => {
    const s = scenario({
      workloads: [workload('foo', 'web', { app: 'web' }, [8080])],
      policies: [pa('foo', 'default', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8081': { mode: 'DISABLE' } } })],
    });
    const modes = effectiveModes(s, 'sidecar');
    expect(modes.map((m) => m.mode)).to.deep.equal(['STRICT', 'STRICT']);
    expect(modes[1]?.decidedBy.map((d) => d.level)).to.deep.equal(['workload']);
  });

  it('rejects an unreadable creationTimestamp with a ScenarioError naming the policy', () => {
    const s = scenario({ workloads: [finance], policies: [pa('foo', 'a', {}, 'yesterday'), pa('foo', 'b', {})] });
    expect(() => effectiveModes(s, 'sidecar')).to.throw(ScenarioError, /foo\/a.*yesterday/);
  });
});
