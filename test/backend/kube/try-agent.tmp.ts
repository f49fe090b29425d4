import { loadScenarios } from '../../../src/scenario/index.js';
import { createLocalBackend } from '../../../src/backend/local/index.js';
import { createMeshPki } from '../../../src/pki/index.js';
import { expectations } from '../../../src/oracle/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../../../src/run/data-plane.js';
import { createExecaRunner } from '../../../src/backend/kube/command-runner.js';
import { openAgentSession } from '../../../src/backend/kube/agent-session.js';
import { createProbeContext, runProbes } from '../../../src/probe/index.js';
import { observedOutcome } from '../../../src/diff/index.js';
import type { ProbeJob } from '../../../src/model/index.js';

const [s] = await loadScenarios(['test/e2e/fixtures/scenarios/strict-and-permissive.yaml']);
const pki = createMeshPki({ trustDomain: s!.trustDomain });
const identities = new Map(s!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]));
const env = await createLocalBackend().start({ runId: 't', scenario: s!, meshMode: 'sidecar', dataPlane: resolveDataPlane('reference'), echoArgv: echoArgv(), identities, appTls: pki.appIdentity(), readyTimeoutMs: 15000 });
try {
  const exps = expectations(s!, 'sidecar');
  const jobs: ProbeJob[] = exps.map((e) => ({ key: e.key, scenario: s!.name, meshMode: 'sidecar', workload: e.workload, port: e.port, protocol: e.protocol, client: e.client, address: env.targets.get(e.workload)!.address, targetPort: e.port, expectedServerIdentity: identities.get(e.workload)!.spiffeId }));
  const stream = createExecaRunner().stream({ argv: [process.execPath, harnessFile('probe-agent/probe-agent.mjs')] });
  const session = await openAgentSession(stream, { timeoutMs: 3000, concurrency: 16, material: pki.probeMaterial() }, 'local agent');
  const t0 = Date.now();
  const a = await session.probe(jobs);
  console.log('agent', a.size, Date.now() - t0);
  const h = await runProbes(jobs, createProbeContext(pki.probeMaterial()), { concurrency: 16, timeoutMs: 3000 });
  for (const e of exps) {
    const oa = a.get(e.key)!, oh = h.get(e.key)!;
    const ca = observedOutcome(oa), ch = observedOutcome(oh);
    const mark = ca === ch && ca === e.outcome ? 'ok' : 'XX';
    console.log(mark, e.key, e.outcome, ca, ch, oa.status === 'denied' ? (oa as any).how + '/' + (oh as any).how : '', oa.status==='error'? (oa as any).message : '');
  }
  await session.close();
} finally { await env.stop(); }
