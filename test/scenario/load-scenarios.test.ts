import { expect } from 'chai';
import { loadScenarioFile, loadScenarios } from '../../src/scenario/index.js';
import { UsageError } from '../../src/util/errors.js';
import type { Policy, Scenario } from '../../src/model/index.js';
import { FIXTURES, lines, scenarioError } from './helpers.js';

const SUITE = `${FIXTURES}/suite`;
const FINANCE = `${SUITE}/port-level/finance-strict-port-8080-disable.yaml`;

function policy(s: Scenario, namespace: string, name: string): Policy {
  const p = s.policies.find((x) => x.namespace === namespace && x.name === name);
  if (!p) throw new Error(`no policy ${namespace}/${name} in ${s.name}`);
  return p;
}

describe('loadScenarios', () => {
  it('walks a folder recursively in sorted order, skipping YAML files that are not scenarios', async () => {
    const scenarios = await loadScenarios([SUITE]);
    // core/profiles.yaml, core/other-kind.yml, core/README.md and port-level/policies/*.yaml are not scenarios.
    expect(scenarios.map((s) => s.file)).to.deep.equal([`${SUITE}/core/defaults.yaml`, `${SUITE}/nested/deeper/mesh-strict.yml`, FINANCE]);
  });

  it('loads the docs/scenarios.md example with every field, inline policies, a multi-document file and a kubectl List', async () => {
    const s = await loadScenarioFile(FINANCE);
    expect(s).to.include({
      name: 'finance-strict-port-8080-disable',
      file: FINANCE,
      feature: 'port-level',
      mode: 'both',
      rootNamespace: 'istio-config',
      trustDomain: 'example.org',
      description: 'Strict mTLS for finance workloads, plaintext allowed on workload port 8080.',
    });
    expect(s.labels).to.deep.equal({ feature: 'port-level', owner: 'team-a' });
    expect(s.source).to.deep.equal({ file: FINANCE, line: 1, column: 1 });

    const [finance, web] = s.workloads;
    expect(finance).to.deep.include({
      name: 'finance',
      namespace: 'foo',
      labels: { app: 'finance' },
      serviceAccount: 'finance-sa',
      ports: [
        { port: 8080, protocol: 'tcp' },
        { port: 9090, protocol: 'http' },
      ],
    });
    expect(finance?.source).to.deep.equal({ file: FINANCE, line: 12, column: 7 });
    expect(web).to.deep.include({ name: 'web', serviceAccount: 'web', ports: [{ port: 80, protocol: 'tcp' }] });

    // Inline, then the file's documents in order (the empty trailing document ignored), then the List's items.
    expect(s.policies.map((p) => `${p.namespace}/${p.name}`)).to.deep.equal(['foo/finance', 'istio-config/default', 'default/ns-default', 'foo/web']);

    const inline = policy(s, 'foo', 'finance');
    expect(inline).to.deep.include({
      creationTimestamp: '2024-01-01T00:00:00Z',
      selector: { app: 'finance' },
      selectorWritten: true,
      mode: 'STRICT',
      source: { file: FINANCE, line: 15, column: 7 },
    });
    expect([...inline.portLevelMtls]).to.deep.equal([[8080, 'DISABLE']]);

    const fromMultiDoc = policy(s, 'default', 'ns-default');
    expect(fromMultiDoc.mode).to.equal('UNSET');
    expect(fromMultiDoc.source).to.deep.equal({ file: `${SUITE}/port-level/policies/multi-doc.yaml`, line: 11, column: 1 });
    // The data plane receives the manifest with the namespace defaulted.
    expect(fromMultiDoc.manifest).to.deep.equal({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'ns-default', namespace: 'default' },
      spec: { mtls: {} },
    });
    expect(policy(s, 'istio-config', 'default').manifest.apiVersion).to.equal('security.istio.io/v1beta1');

    const fromList = policy(s, 'foo', 'web');
    expect(fromList).to.deep.include({ mode: 'DISABLE', selector: { app: 'web' }, creationTimestamp: '2024-03-01T10:00:00Z' });
    expect(fromList.source).to.deep.equal({ file: `${SUITE}/port-level/policies/kubectl-list.yaml`, line: 4, column: 3 });
    // Server-set metadata is accepted and kept; the top-level status is ignored.
    expect(fromList.manifest.metadata).to.include({ uid: '0b0c6a4e-1111-2222-3333-444455556666', resourceVersion: '12345' });
    expect(fromList.manifest).to.not.have.property('status');

    expect(s.expect).to.deep.equal([
      { workload: 'foo/finance', port: 8080, mode: 'DISABLE', outcomes: {}, source: { file: FINANCE, line: 22, column: 7 } },
      { workload: 'foo/finance', port: 9090, outcomes: { plaintext: 'deny', mtls: 'allow' }, source: { file: FINANCE, line: 23, column: 7 } },
      {
        workload: 'foo/web',
        outcomes: { 'mtls-tcp': 'passthrough', 'tls-no-client-cert': 'deny' },
        source: { file: FINANCE, line: 24, column: 7 },
      },
    ]);
    // mode: both runs in ambient too, where every DISABLE is PERMISSIVE: warned at the mode, in the file it is in.
    const tail = 'is not supported in ambient mode and behaves as PERMISSIVE (spec R6.5): plaintext is still accepted and mesh traffic stays HBONE mTLS';
    expect(s.warnings).to.deep.equal([
      { message: `PeerAuthentication foo/finance: portLevelMtls 8080 DISABLE ${tail}`, source: { file: FINANCE, line: 18, column: 115 } },
      {
        message: `PeerAuthentication foo/web: mtls.mode DISABLE ${tail}`,
        source: { file: `${SUITE}/port-level/policies/kubectl-list.yaml`, line: 28, column: 13 },
      },
    ]);
  });

  it('accepts an inline kind: List of manifests', async () => {
    const file = `${FIXTURES}/lists/inline-list.yaml`;
    const s = await loadScenarioFile(file);
    expect(s.policies.map((p) => [p.name, p.mode, p.source.line, p.source.column])).to.deep.equal([
      ['one', 'STRICT', 9, 11],
      ['two', 'UNSET', 10, 11],
    ]);
    expect([...policy(s, 'ns', 'two').portLevelMtls]).to.deep.equal([[80, 'DISABLE']]);
  });

  it('fills defaults: name from the file stem, feature from the folder, sidecar, istio-system, cluster.local', async () => {
    const s = await loadScenarioFile(`${SUITE}/core/defaults.yaml`);
    expect(s).to.deep.include({
      name: 'defaults',
      feature: 'core',
      labels: {},
      description: '',
      mode: 'sidecar',
      rootNamespace: 'istio-system',
      trustDomain: 'cluster.local',
      policies: [],
      expect: [],
      warnings: [],
    });
    expect(s.workloads).to.have.length(1);
    expect(s.workloads[0]).to.deep.include({ name: 'echo', namespace: 'default', labels: {}, serviceAccount: 'echo', ports: [{ port: 8080, protocol: 'tcp' }] });
  });

  it('feature comes from metadata.labels.feature when given, and a policy without namespace gets "default"', async () => {
    const s = await loadScenarioFile(`${SUITE}/nested/deeper/mesh-strict.yml`);
    expect(s.feature).to.equal('precedence');
    expect(s.mode).to.equal('ambient');
    expect(s.name).to.equal('mesh-strict');
  });

  it('collapses every UNSET spelling to UNSET and distinguishes absent, null and empty selectors', async () => {
    const file = `${FIXTURES}/unset/unset-spellings.yaml`;
    const s = await loadScenarioFile(file);
    for (const name of ['no-spec', 'empty-spec', 'empty-mtls', 'null-mtls', 'unset-mode']) {
      expect(policy(s, 'a', name).mode, name).to.equal('UNSET');
    }
    const ports = policy(s, 'ns', 'ports');
    expect(ports.mode).to.equal('STRICT');
    // 80: {}, 90: (empty), 100: {mode: UNSET}, 120: null are all UNSET; 110 is explicit.
    expect([...ports.portLevelMtls]).to.deep.equal([
      [80, 'UNSET'],
      [90, 'UNSET'],
      [100, 'UNSET'],
      [110, 'PERMISSIVE'],
      [120, 'UNSET'],
    ]);
    expect(policy(s, 'a', 'no-spec')).to.include({ selector: null, selectorWritten: false });
    expect(policy(s, 'b', 'null-selector')).to.include({ selector: null, selectorWritten: false });
    expect(policy(s, 'b', 'empty-selector')).to.deep.include({ selector: {}, selectorWritten: true });
    expect(policy(s, 'b', 'empty-labels')).to.deep.include({ selector: {}, selectorWritten: true });
    // `selector: {}` is valid but warned about, at the selector (spec R1.3).
    expect(s.warnings).to.deep.equal([
      { message: 'spec.policies[7].spec.selector: workload selector specified without labels', source: { file, line: 24, column: 137 } },
      { message: 'spec.policies[8].spec.selector: workload selector specified without labels', source: { file, line: 25, column: 135 } },
    ]);
  });

  it('grep selects by name or by feature', async () => {
    expect((await loadScenarios([SUITE], { grep: 'finance' })).map((s) => s.name)).to.deep.equal(['finance-strict-port-8080-disable']);
    expect((await loadScenarios([SUITE], { grep: '^core$' })).map((s) => s.name)).to.deep.equal(['defaults']);
    expect((await loadScenarios([SUITE], { grep: 'prec|port-level' })).map((s) => s.name)).to.deep.equal(['mesh-strict', 'finance-strict-port-8080-disable']);
    expect(await loadScenarios([SUITE], { grep: 'nothing-matches' })).to.deep.equal([]);
  });

  it('an invalid grep is a UsageError, raised before any file is read', async () => {
    try {
      await loadScenarios(['does-not-exist'], { grep: '(' });
      expect.fail('expected a UsageError');
    } catch (err) {
      expect(err).to.be.instanceOf(UsageError);
      expect((err as Error).message).to.match(/^--grep "\(" is not a valid regular expression: /);
    }
  });

  it('a file named explicitly and also inside a named folder is loaded once', async () => {
    const scenarios = await loadScenarios([FINANCE, SUITE]);
    expect(scenarios.map((s) => s.name)).to.deep.equal(['finance-strict-port-8080-disable', 'defaults', 'mesh-strict']);
  });

  it('duplicate scenario names across files are an error naming both files', async () => {
    const err = await scenarioError(loadScenarios([`${FIXTURES}/dup-names`]));
    expect(lines(err)).to.deep.equal([
      `${FIXTURES}/dup-names/b/same-name.yaml:1:1: duplicate scenario name "same-name": also defined in ${FIXTURES}/dup-names/a/same-name.yaml:1:1`,
    ]);
  });

  it('in a folder walk, a file too broken to tell its kind is reported, not skipped', async () => {
    const err = await scenarioError(loadScenarios([`${FIXTURES}/walk-broken`]));
    expect(lines(err)[0]).to.match(/^test\/scenario\/fixtures\/walk-broken\/broken\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('in a folder walk, a broken file that says kind: Scenario is reported', async () => {
    const err = await scenarioError(loadScenarios([`${FIXTURES}/walk-broken-kind`]));
    expect(lines(err)[0]).to.match(/^test\/scenario\/fixtures\/walk-broken-kind\/half-written\.yaml:4:37: invalid YAML: /);
  });

  it('a folder without scenarios yields none', async () => {
    expect(await loadScenarios([`${SUITE}/port-level/policies`])).to.deep.equal([]);
  });
});
