// `npm run bench`, section 7: HBONE probes per second against the reference ambient proxy (local backend).
//   - the `hbone` client alone (TCP + TLS 1.3 + HTTP/2 CONNECT + the line through the tunnel + echo), in a loop like
//     the bare handshake loop of section 1, so the two figures compare;
//   - every ambient client kind (9 direct + 6 HBONE) of a scenario through runProbes, as a run fires them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalBackend } from '../src/backend/local/index.js';
import type { Observation, ProbeJob, WorkloadTls } from '../src/model/index.js';
import { expectations } from '../src/oracle/index.js';
import { createMeshPki } from '../src/pki/index.js';
import { createProbeContext, hboneUnservedPort, runProbe, runProbes } from '../src/probe/index.js';
import { echoArgv, resolveDataPlane } from '../src/run/data-plane.js';
import { loadScenarios } from '../src/scenario/index.js';

export interface HboneBenchTools {
  readonly work: string;
  readonly quick: boolean;
  readonly bareRate: number;
  fmt(n: number, digits?: number): string;
}

const WORKLOADS = 8;
const PORTS = [8000, 8001, 8002, 8003];

export async function benchHbone(t: HboneBenchTools): Promise<void> {
  const { fmt } = t;
  console.log('7. HBONE probes (local backend, reference ambient proxy)');
  const dir = mkdtempSync(join(t.work, 'hbone-'));
  const file = join(dir, 'bench-hbone.yaml');
  const workloads = Array.from({ length: WORKLOADS }, (_, i) => `    - { name: w${i}, namespace: ns${i % 2}, labels: { app: w${i} }, ports: [${PORTS.join(', ')}] }`);
  writeFileSync(
    file,
    [
      'apiVersion: meshconform.dev/v1alpha1',
      'kind: Scenario',
      'metadata: { name: bench-hbone, labels: { feature: bench } }',
      'spec:',
      '  mode: ambient',
      '  workloads:',
      ...workloads,
      '  policies:',
      '    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: mesh, namespace: istio-system }, spec: { mtls: { mode: STRICT } } }',
      '    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: w1, namespace: ns1 }, spec: { selector: { matchLabels: { app: w1 } }, portLevelMtls: { 8001: { mode: PERMISSIVE } } } }',
      '',
    ].join('\n'),
  );
  const [scenario] = await loadScenarios([file]);
  const s = scenario!;
  const pki = createMeshPki({ trustDomain: s.trustDomain });
  const identities = new Map<string, WorkloadTls>(
    s.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
  );
  const backend = createLocalBackend({ subnet: '127.245' });
  const env = await backend.start({
    runId: `bench-hbone-${Date.now()}`,
    scenario: s,
    meshMode: 'ambient',
    dataPlane: resolveDataPlane('reference-ambient'),
    echoArgv: echoArgv(),
    identities,
    appTls: pki.appIdentity(),
    readyTimeoutMs: 30_000,
  });
  try {
    const ctx = createProbeContext(pki.probeMaterial());
    const exps = expectations(s, 'ambient');
    let seq = 0;
    const jobOf = (e: (typeof exps)[number]): ProbeJob => {
      const target = env.targets.get(e.workload)!;
      return {
        key: `${e.key}|${seq++}`,
        scenario: s.name,
        meshMode: 'ambient',
        workload: e.workload,
        port: e.port,
        protocol: e.protocol,
        client: e.client,
        address: target.address,
        targetPort: e.client === 'hbone-unserved-port' ? hboneUnservedPort(PORTS) : target.ports.get(e.port)!,
        expectedServerIdentity: identities.get(e.workload)!.spiffeId,
      };
    };

    // The hbone client alone, 8 in flight for a fixed time (as the bare loop of section 1).
    const hbone = exps.filter((e) => e.client === 'hbone');
    const until = performance.now() + (t.quick ? 2000 : 5000);
    let allowed = 0;
    const other = new Map<string, number>();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; performance.now() < until; i += 8) {
          const o: Observation = await runProbe(jobOf(hbone[i % hbone.length]!), ctx, { timeoutMs: 5000 });
          if (o.status === 'allowed') allowed++;
          else other.set(o.status, (other.get(o.status) ?? 0) + 1);
        }
      }),
    );
    const hboneRate = allowed / ((performance.now() - t0) / 1000);
    const notAllowed = [...other].map(([k, v]) => `${v} ${k}`).join(', ');
    console.log(`   hbone client alone (TLS 1.3 + HTTP/2 CONNECT + echo, 8 in flight)   ${fmt(hboneRate)} probes/s${notAllowed ? ` (not allowed: ${notAllowed})` : ''}`);
    console.log(`   ratio to the bare Node mTLS handshake loop (section 1)             ${fmt(hboneRate / t.bareRate, 2)}`);

    // Every ambient client kind of the scenario, as a run fires them.
    const jobs = exps.map(jobOf);
    const p0 = performance.now();
    const results = await runProbes(jobs, ctx, { concurrency: 32, timeoutMs: 5000 });
    const mixedMs = performance.now() - p0;
    const errors = [...results.values()].filter((o) => o.status === 'error').length;
    console.log(`   all 15 ambient clients, ${jobs.length} probes (concurrency 32)        ${fmt(jobs.length / (mixedMs / 1000))} probes/s, ${errors} errors\n`);
  } finally {
    await env.stop();
  }
}
