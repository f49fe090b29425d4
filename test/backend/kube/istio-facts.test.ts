// Istio facts the kind and cluster backends depend on, each checked against the real template, message or shape from
// the upstream sources: the injection template's userVolumeMount loop, the tie rules per version, the pinned node
// images, the mesh trust domain from the istio ConfigMap, and the webhook's failurePolicy switch.
import { expect } from 'chai';
import { parse } from 'yaml';
import { createKubeBackend, kindNodeImageFor, KIND_NODE_IMAGES, POD_HARNESS_FILES, probeAgentManifests, tieSkip } from '../../../src/backend/kube/index.js';
import { RUN_ID, ScriptedRunner, e2eScenario, fixture, harnessDir, runKubeSuite, scenario } from './support.js';
import { scope } from '../../../src/run/lifecycle.js';

/**
 * The loop of Istio's sidecar injection template (manifests/charts/istio-control/istio-discovery/files/
 * injection-template.yaml), rendered by hand for one annotation value: `range $index, $value := fromJSON (...)`, then
 * `- name: "{{ $index }}"` and `{{ toYaml $value | indent 4 }}`.
 */
function renderUserVolumeMount(annotation: string): string {
  const parsed = JSON.parse(annotation) as Record<string, unknown> | unknown[];
  const entries = Array.isArray(parsed) ? parsed.map((v, i) => [String(i), v] as const) : Object.entries(parsed);
  return entries
    .map(
      ([index, value]) =>
        `- name: "${index}"\n  ${JSON.stringify(value)
          .replace(/^\{|\}$/g, '')
          .replace(/"(\w+)":/g, '$1: ')}`,
    )
    .join('\n');
}

describe('Istio facts behind the kube backends', () => {
  it('userVolumeMount is written in map form: the template names the mount after the key (no duplicate name key)', () => {
    const ctx = {
      runId: RUN_ID,
      image: 'i',
      imagePullPolicy: 'Never' as const,
      harnessFiles: POD_HARNESS_FILES.map((path) => ({ path, content: '' })),
      appTls: { certPem: '', keyPem: '' },
      injectionLabel: ['istio-injection', 'enabled'] as const,
      owner: {},
    };
    const dep = probeAgentManifests(ctx, { namespace: 'p', identity: 'sidecar-certs' }).find((m) => m.kind === 'Deployment') as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    const annotation = dep.spec.template.metadata.annotations['sidecar.istio.io/userVolumeMount']!;
    expect(JSON.parse(annotation)).to.deep.equal({ 'istio-certs': { mountPath: '/etc/istio-output-certs' } });
    const rendered = parse(renderUserVolumeMount(annotation)) as { name: string; mountPath: string }[];
    expect(rendered).to.deep.equal([{ name: 'istio-certs', mountPath: '/etc/istio-output-certs' }]);
    // The old array form renders `name: "0"` and then a second `name:` key: valid only by last-wins parsing.
    expect(() => parse(renderUserVolumeMount('[{"name":"istio-certs","mountPath":"/x"}]'), { uniqueKeys: true })).to.throw(/Map keys must be unique/);
  });

  it('same-second ties: skipped on Istio 1.22 (name + "." + namespace), run on 1.23+, declared versions honoured', async () => {
    const tie = await scenario(fixture('tie'));
    expect(tieSkip(tie, 'sidecar', '1.22.8')).to.match(
      /Istio 1\.22\.8 \(sidecar\), and its same-second ties are ordered by name then namespace \(Istio 1\.23 and later\); Istio 1\.22 orders them by name \+ "\." \+ namespace/,
    );
    expect(tieSkip(tie, 'sidecar', '1.23.0')).to.equal(undefined);
    expect(tieSkip(tie, 'sidecar', undefined)).to.equal(undefined);
    const declared = { ...tie, labels: { ...tie.labels, 'istio-versions': '1.22' } };
    expect(tieSkip(declared, 'sidecar', '1.24.1')).to.match(/declares istio-versions: "1\.22"/);
    const noTie = await scenario(e2eScenario('port-level-disable'));
    expect(tieSkip(noTie, 'sidecar', '1.22.0')).to.equal(undefined);
  });

  it('node images: one pinned per Istio 1.22-1.29, a Kubernetes version that Istio release supports, by digest', () => {
    for (const pin of KIND_NODE_IMAGES) {
      const [lo, hi] = pin.supports.split(' - ').map((v) => Number(v.split('.')[1]));
      const k8sMinor = Number(pin.kubernetes.split('.')[1]);
      expect(k8sMinor, pin.istio).to.be.within(lo!, hi!);
      expect(pin.image).to.match(new RegExp(`^kindest/node:v${pin.kubernetes.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
    }
    expect(kindNodeImageFor('1.22.8')!.image).to.match(/v1\.30\./);
    expect(kindNodeImageFor('1.21.0')).to.equal(undefined);
  });

  it("cluster: a scenario of another trust domain than the mesh's (istio ConfigMap) is skipped, nothing created", async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const runner = new ScriptedRunner((argv) =>
      argv.includes('configmap') && argv.includes('istio')
        ? { stdout: 'defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\ntrustDomain: corp.example\n' }
        : undefined,
    );
    const backend = createKubeBackend({
      backend: 'cluster',
      runner,
      harnessDir,
      podReadyTimeoutMs: 1000,
      scope: scope(),
      context: 'vendor-prod',
      image: 'node:20-slim',
      injectionLabel: ['istio-injection', 'enabled'],
      rootNamespace: 'istio-system',
      allowMeshPolicies: false,
      meshModes: ['sidecar'],
    });
    const r = (await runKubeSuite({
      scenarios: [s],
      paths: ['t'],
      backend,
      runId: RUN_ID,
      concurrency: 1,
      timeoutMs: 1000,
      convergence: { successes: 1, deadlineMs: 1000, intervalMs: 10 },
      dataPlaneName: 'x',
    }))!;
    expect(r.scenarios[0]!.skipped).to.match(/the mesh has trust domain corp\.example \(meshConfig\.trustDomain in its istio ConfigMap\), the scenario cluster\.local/);
    expect(runner.lines().some((l) => /apply|create namespace/.test(l))).to.equal(false);
  });
});
