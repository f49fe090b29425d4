// `npm run bench`, optional sections (ISSUE 4): each runs only where its capability exists, and says so otherwise.
//   5. docker backend: workload image build (cold) and cache hit; a 20-workload scenario from nothing to verdicts
//      through the CLI (target ≤ 15 s on 2 cores, docs/architecture.md#performance-targets); container start and stop time; probes/s against containers.
//   6. HAProxy vs the reference sidecar: probe throughput of the same scenario on the local backend, same run.
import { execa } from 'execa';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDockerEngine, createDockerBackend, ensureHarnessImage } from '../src/backend/docker/index.js';
import { expectations } from '../src/oracle/index.js';
import { createMeshPki } from '../src/pki/index.js';
import { createProbeContext, runProbes } from '../src/probe/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../src/run/data-plane.js';
import { loadScenarios } from '../src/scenario/index.js';
import type { ProbeJob, RunResult, WorkloadTls } from '../src/model/index.js';
import type { Targets } from './bench-targets.js';

export interface BenchTools {
  timedRun(cliArgs: string[], allowMismatch?: boolean): Promise<{ wallMs: number; result: RunResult }>;
  writeScenario(name: string, workloads: number, ports: number): string;
  fmt(n: number, digits?: number): string;
  readonly targets: Targets;
}

const DOCKER_TARGET = 'docker backend, 20 workloads to verdicts ≤ 15 s';

export async function benchContainers(t: BenchTools): Promise<void> {
  await benchDocker(t);
  await benchHaproxy(t);
}

async function benchDocker(t: BenchTools): Promise<void> {
  const { fmt } = t;
  console.log('5. docker backend (testcontainers, reference data plane in one container per workload)');
  let docker: Awaited<ReturnType<typeof connectDockerEngine>>['docker'];
  try {
    docker = (await connectDockerEngine()).docker;
  } catch (err) {
    console.log(`   skipped: ${(err as Error).message}\n`);
    t.targets.notRun(DOCKER_TARGET, 'no Docker engine');
    return;
  }
  // Image: a build on a harness copy (a hash no run has built), then the cache hit the real harness gets.
  const copy = mkdtempSync(join(tmpdir(), 'meshconform-bench-harness-'));
  cpSync(harnessFile(''), copy, { recursive: true });
  writeFileSync(join(copy, 'bench.txt'), `${Date.now()}\n`);
  const cold = await ensureHarnessImage(docker, copy);
  await docker.getImage(cold.ref).remove();
  rmSync(copy, { recursive: true, force: true });
  await ensureHarnessImage(docker, harnessFile(''));
  const hit = await ensureHarnessImage(docker, harnessFile(''));
  console.log(`   image build (node + ldd libraries + harness, docker import)   ${fmt(cold.ms)} ms; cache hit ${fmt(hit.ms)} ms (content hash)`);

  const file = t.writeScenario('bench-docker', 20, 4);
  const run = await t.timedRun(['run', file, '--backend', 'docker', '--retries', '0', '--parallel', '1', '--ready-timeout', '60000']);
  const s = run.result.summary;
  const verdict = t.targets.atMost(DOCKER_TARGET, run.wallMs / 1000, 15, (x) => `${fmt(x, 1)} s`);
  console.log(
    `   20 workloads × 4 ports × 9 clients, nothing to verdicts (CLI wall time, image cached): ${fmt(run.wallMs / 1000, 1)} s` +
      `   target ≤ 15 s  ${verdict}  (${s.passed}/${s.cells} passed)`,
  );
  console.log(`   same with the image built first: ${fmt((run.wallMs + cold.ms) / 1000, 1)} s`);

  // The same scenario through the backend API: container start, probes against container addresses, stop.
  const [scenario] = await loadScenarios([file]);
  const pki = createMeshPki({ trustDomain: scenario!.trustDomain });
  const identities = new Map<string, WorkloadTls>(
    scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
  );
  const backend = createDockerBackend({ harnessDir: harnessFile('') });
  const runId = `bench-${Date.now()}`;
  const t0 = performance.now();
  const env = await backend.start({
    runId,
    scenario: scenario!,
    meshMode: 'sidecar',
    dataPlane: resolveDataPlane('reference'),
    echoArgv: echoArgv(),
    identities,
    appTls: pki.appIdentity(),
    readyTimeoutMs: 60_000,
  });
  const startMs = performance.now() - t0;
  let probeMs = 0;
  let jobs: ProbeJob[] = [];
  try {
    jobs = expectations(scenario!, 'sidecar').map((e) => {
      const target = env.targets.get(e.workload)!;
      return {
        key: e.key,
        scenario: scenario!.name,
        meshMode: 'sidecar',
        workload: e.workload,
        port: e.port,
        protocol: e.protocol,
        client: e.client,
        address: target.address,
        targetPort: target.ports.get(e.port)!,
        expectedServerIdentity: identities.get(e.workload)!.spiffeId,
      };
    });
    const ctx = createProbeContext(pki.probeMaterial());
    const p0 = performance.now();
    await runProbes(jobs, ctx, { concurrency: 32, timeoutMs: 3000 });
    probeMs = performance.now() - p0;
  } finally {
    const s0 = performance.now();
    await env.stop();
    await backend.removeRun(runId);
    console.log(
      `   container start: 20 containers ready (TCP on every port) in ${fmt(startMs)} ms (${fmt(startMs / 20)} ms each, 8 at a time); stop + network removal ${fmt(performance.now() - s0)} ms`,
    );
  }
  console.log(`   probes against container addresses: ${jobs.length} in ${fmt(probeMs)} ms → ${fmt(jobs.length / (probeMs / 1000))} probes/s (concurrency 32)\n`);
}

async function benchHaproxy(t: BenchTools): Promise<void> {
  const { fmt } = t;
  console.log('6. HAProxy vs reference sidecar (local backend, same scenario, same run)');
  const v = await execa('haproxy', ['-v'], { reject: false });
  if (v.exitCode !== 0) {
    console.log('   skipped: haproxy is not installed (apt-get install haproxy)\n');
    return;
  }
  const file = t.writeScenario('bench-haproxy', 16, 4);
  const rates: Record<string, number> = {};
  for (const [plane, subnet] of [
    ['reference', '127.246'],
    ['haproxy', '127.247'],
  ] as const) {
    // HAProxy fails the other-trust-domain cells (README): a mismatch exit is expected there.
    const r = await t.timedRun(['run', file, '--data-plane', plane, '--local-subnet', subnet, '--retries', '0', '--parallel', '1'], plane === 'haproxy');
    const sc = r.result.scenarios[0]!;
    rates[plane] = r.result.summary.cells / (sc.durationMs / 1000);
    console.log(
      `   ${plane.padEnd(9)} ${fmt(rates[plane]!)} probes/s inside the scenario (${r.result.summary.passed}/${r.result.summary.cells} passed, ${r.result.summary.failed} failed)`,
    );
  }
  console.log(`   ratio haproxy ÷ reference ${fmt(rates.haproxy! / rates.reference!, 2)}\n`);
}
