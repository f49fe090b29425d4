// Generated manifests: typed, validated with kubernetes-models / @kubernetes-models/istio, labelled with the run,
// and laid out so the spec's port rules are exercised (Service port ≠ target port, some ports in no Service).
import { expect } from 'chai';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { policyGroups, probeAgentManifests, scenarioManifests, servicePlan, toYaml, type Manifest, type ManifestContext } from '../../../src/backend/kube/index.js';
import type { PeerAuthenticationManifest, Scenario, Workload } from '../../../src/model/index.js';
import { FUZZ_SEED } from '../../support/fuzz-seed.js';
import { RUN_ID, fixture, scenario } from './support.js';

const ctx: ManifestContext = {
  runId: RUN_ID,
  image: 'node:20-slim',
  imagePullPolicy: 'IfNotPresent',
  harnessFiles: [
    'common/harness-error.mjs',
    'common/request-line.mjs',
    'common/peer-exchange.mjs',
    'echo/echo-app.mjs',
    'probe-agent/clients.mjs',
    'probe-agent/hbone.mjs',
    'probe-agent/probe-agent.mjs',
  ].map((path) => ({ path, content: `// ${path}\n` })),
  appTls: { certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', keyPem: '-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n' },
  injectionLabel: ['istio.io/rev', 'canary'],
  owner: { 'meshconform.dev/pid': '1', 'meshconform.dev/host': 'h' },
};

const pa = (namespace: string, name: string, spec: PeerAuthenticationManifest['spec'], creationTimestamp?: string): PeerAuthenticationManifest => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) },
  spec,
});

describe('kube manifests', () => {
  it('every object carries the run label; namespaces say how they join the mesh (custom injection label, ambient)', async () => {
    const s = await scenario(fixture('kube-mix'));
    for (const mode of ['sidecar', 'ambient'] as const) {
      const all = scenarioManifests(ctx, s, mode);
      for (const m of all) expect(m.metadata?.labels?.['meshconform.run'], `${m.kind} ${m.metadata?.name}`).to.equal(RUN_ID);
      const nss = all.filter((m) => m.kind === 'Namespace');
      expect(nss.map((n) => n.metadata!.name)).to.deep.equal(['foo', 'bar']);
      for (const n of nss) {
        expect(n.metadata!.labels).to.deep.include(mode === 'sidecar' ? { 'istio.io/rev': 'canary' } : { 'istio.io/dataplane-mode': 'ambient' });
        expect(n.metadata!.annotations).to.deep.equal(ctx.owner);
      }
    }
  });

  it('Deployments carry the scenario labels and container ports; Services map other ports and leave some out', async () => {
    const s = await scenario(fixture('kube-mix'));
    const all = scenarioManifests(ctx, s, 'sidecar');
    const dep = all.find((m) => m.kind === 'Deployment' && m.metadata!.name === 'web') as Extract<Manifest, { kind: 'Deployment' }>;
    expect(dep.spec!.template.metadata!.labels).to.deep.include({ app: 'web', tier: 'front', 'meshconform.workload': 'web' });
    expect(dep.spec!.template.spec!.serviceAccountName).to.equal('web-sa');
    expect(dep.spec!.template.spec!.containers[0]!.ports).to.deep.equal([{ name: 'tcp-8080', containerPort: 8080, protocol: 'TCP' }]);
    const svc = all.find((m) => m.kind === 'Service' && m.metadata!.name === 'finance') as Extract<Manifest, { kind: 'Service' }>;
    expect(svc.spec!.ports).to.deep.equal([
      { name: 'tcp-18080', port: 18080, targetPort: 8080, protocol: 'TCP', appProtocol: 'tcp' },
      { name: 'http-19090', port: 19090, targetPort: 9090, protocol: 'TCP', appProtocol: 'http' },
    ]);
    expect(
      servicePlan(s)
        .get('foo/finance')!
        .find((p) => p.port === 7070),
    ).to.deep.equal({ port: 7070, protocol: 'tcp' });
    const echo = all.find((m) => m.kind === 'ConfigMap' && m.metadata!.name === 'meshconform-echo' && m.metadata!.namespace === 'foo') as Extract<Manifest, { kind: 'ConfigMap' }>;
    expect(JSON.parse(echo.data!['finance.json']!)).to.deep.equal({
      listeners: [8080, 9090, 7070].map((port) => ({ workload: 'foo/finance', port, address: '0.0.0.0', appPort: port })),
      tls: { certFile: '/meshconform/config/app-cert.pem', keyFile: '/meshconform/config/app-key.pem' },
    });
  });

  it('property: Service ports differ from every container port of their workload and are unique; HTTP ports are always in the Service', () => {
    const port = fc.integer({ min: 1, max: 65535 });
    const w = fc.record({
      ports: fc.uniqueArray(fc.record({ port, protocol: fc.constantFrom('tcp' as const, 'http' as const) }), { minLength: 1, maxLength: 8, selector: (p) => p.port }),
    });
    fc.assert(
      fc.property(fc.array(w, { minLength: 1, maxLength: 4 }), (ws) => {
        const s = {
          workloads: ws.map(
            (x, i) => ({ name: `w${i}`, namespace: 'ns', labels: {}, serviceAccount: `w${i}`, ports: x.ports, source: { file: 'f', line: 1, column: 1 } }) as Workload,
          ),
        } as unknown as Scenario;
        const plan = servicePlan(s);
        let tcp = 0;
        for (const x of s.workloads) {
          const ports = plan.get(`ns/${x.name}`)!;
          const declared = new Set(x.ports.map((p) => p.port));
          const used = ports.filter((p) => p.servicePort !== undefined).map((p) => p.servicePort!);
          expect(new Set(used).size).to.equal(used.length);
          for (const sp of used) expect(declared.has(sp)).to.equal(false);
          for (const p of ports) {
            if (p.protocol === 'http') expect(p.servicePort).to.be.a('number');
            else expect(p.servicePort === undefined).to.equal(tcp++ % 2 === 1);
          }
        }
      }),
      { seed: FUZZ_SEED, numRuns: 200 },
    );
  });

  it('policies: oldest group first, no timestamp oldest of all, ties together, timestamps dropped, run label added, schema-checked', () => {
    const groups = policyGroups(RUN_ID, [
      pa('foo', 'b-newer', { mtls: { mode: 'STRICT' } }, '2024-01-02T00:00:00Z'),
      pa('foo', 'z-old', { mtls: { mode: 'DISABLE' } }, '2024-01-01T00:00:00Z'),
      pa('foo', 'a-old', { mtls: { mode: 'PERMISSIVE' } }, '2024-01-01T00:00:00Z'),
      pa('foo', 'zero-time', { mtls: { mode: 'UNSET' } }),
    ]);
    expect(groups.map((g) => g.map((p) => p.metadata.name))).to.deep.equal([['zero-time'], ['a-old', 'z-old'], ['b-newer']]);
    for (const p of groups.flat()) {
      expect(p.metadata).to.not.have.property('creationTimestamp');
      expect(p.metadata.labels).to.deep.equal({ 'meshconform.run': RUN_ID });
      expect(p.apiVersion).to.equal('security.istio.io/v1');
    }
    expect(() => policyGroups(RUN_ID, [pa('foo', 'bad', { mtls: { mode: 'STRIKT' as 'STRICT' } })])).to.throw(
      /PeerAuthentication foo\/bad fails the Istio schema: .*must be equal to one of the allowed values/,
    );
  });

  it('YAML for kubectl keeps the key; the plan form redacts it and shows harness files by hash', async () => {
    const s = await scenario(fixture('kube-mix'));
    const all = scenarioManifests(ctx, s, 'sidecar');
    const applied = toYaml(all);
    expect(applied).to.include('SECRET');
    const docs = parseAllDocuments(applied).map((d) => d.toJS() as Manifest);
    expect(docs).to.deep.equal(all);
    const plan = toYaml(all, { forPlan: true });
    expect(plan).to.not.include('SECRET');
    expect(plan).to.include('app-key.pem: "<redacted: private key>"');
    expect(plan).to.include('-----BEGIN CERTIFICATE-----');
    expect(plan).to.match(/echo__echo-app\.mjs: "<harness\/echo\/echo-app\.mjs: \d+ bytes, sha256 [0-9a-f]{16}…>"/);
  });

  it('the probe pod: outside the mesh, or with a sidecar only to export its certificate (OUTPUT_CERTS)', () => {
    const outside = probeAgentManifests(ctx, { namespace: 'p', identity: 'outside' });
    const ns = outside.find((m) => m.kind === 'Namespace')!;
    expect(ns.metadata!.labels).to.deep.include({ 'istio-injection': 'disabled' });
    const dep = outside.find((m) => m.kind === 'Deployment') as Extract<Manifest, { kind: 'Deployment' }>;
    expect(dep.spec!.template.metadata!.labels).to.deep.include({ 'sidecar.istio.io/inject': 'false' });
    expect(dep.spec!.template.spec!.containers[0]!.command).to.deep.equal(['node', '/meshconform/app/probe-agent/probe-agent.mjs', '--hold']);

    const inMesh = probeAgentManifests(ctx, { namespace: 'p', identity: 'sidecar-certs' });
    const dep2 = inMesh.find((m) => m.kind === 'Deployment') as Extract<Manifest, { kind: 'Deployment' }>;
    expect(inMesh.find((m) => m.kind === 'Namespace')!.metadata!.labels).to.deep.include({ 'istio.io/rev': 'canary' });
    expect(dep2.spec!.template.metadata!.annotations).to.deep.equal({
      'proxy.istio.io/config': 'proxyMetadata:\n  OUTPUT_CERTS: /etc/istio-output-certs\n',
      'sidecar.istio.io/userVolumeMount': '{"istio-certs":{"mountPath":"/etc/istio-output-certs"}}',
      'traffic.sidecar.istio.io/includeInboundPorts': '',
      'traffic.sidecar.istio.io/includeOutboundIPRanges': '',
    });
    expect(dep2.spec!.template.spec!.volumes).to.deep.include({ name: 'istio-certs', emptyDir: { medium: 'Memory' } });
    expect(dep2.spec!.template.spec!.containers[0]!.volumeMounts).to.deep.include({ name: 'istio-certs', mountPath: '/etc/istio-output-certs', readOnly: true });
  });
});
