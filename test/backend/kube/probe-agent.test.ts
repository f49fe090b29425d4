// The probe agent (src/agent, bundled into harness/probe-agent/probe-agent.mjs) for real: its batch protocol over one
// stdin/stdout stream, against real workloads behind the reference data plane on the local and docker backends,
// compared cell by cell with the oracle and with the harness's own probes (src/probe), which the agent runs too. The
// agent is the same file that runs in a cluster.
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { createLocalBackend } from '../../../src/backend/local/index.js';
import { createDockerBackend } from '../../../src/backend/docker/index.js';
import { openAgentSession, type AgentMaterial } from '../../../src/backend/kube/index.js';
import { ensureProbeAgent } from '../../../src/backend/kube/agent-bundle.js';
import { createMeshPki, type MeshPki } from '../../../src/pki/index.js';
import { expectations } from '../../../src/oracle/index.js';
import { observedOutcome } from '../../../src/diff/index.js';
import { createProbeContext, hboneUnservedPort, runProbes } from '../../../src/probe/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../../../src/run/data-plane.js';
import {
  isHboneClient,
  type HostBackend,
  type Environment,
  type Expectation,
  type MeshMode,
  type Observation,
  type ProbeJob,
  type Scenario,
  type WorkloadTls,
} from '../../../src/model/index.js';
import { requireCapability } from '../../support/require.js';
import { dockerOrUndefined } from '../docker/support.js';
import { agentPath, dockerAgentStream, e2eScenario, harnessDir, localAgentStream, root, scenario } from './support.js';

const SCENARIOS = [e2eScenario('strict-and-permissive'), e2eScenario('port-level-disable'), join(root, 'scenarios/protocols/http-and-tcp-under-permissive.yaml')];
/** Ambient scenarios with STRICT and PERMISSIVE ports, TCP and HTTP, for the HBONE clients. */
const AMBIENT_SCENARIOS = ['ambient-namespace-strict', 'ambient-port-permissive-under-mesh-strict', 'both-namespace-strict'].map((n) =>
  join(root, 'scenarios/ambient', `${n}.yaml`),
);

interface Started {
  readonly s: Scenario;
  readonly env: Environment;
  readonly jobs: ProbeJob[];
  readonly exps: Expectation[];
}

async function start(backend: HostBackend, file: string, pki: MeshPki, runId: string, meshMode: MeshMode = 'sidecar'): Promise<Started> {
  const s = await scenario(file);
  const identities = new Map<string, WorkloadTls>(
    s.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
  );
  const dataPlane = resolveDataPlane(meshMode === 'ambient' ? 'reference-ambient' : 'reference');
  const env = await backend.start({ runId, scenario: s, meshMode, dataPlane, echoArgv: echoArgv(), identities, appTls: pki.appIdentity(), readyTimeoutMs: 30_000 });
  const exps = expectations(s, meshMode);
  const declared = (workload: string) => s.workloads.find((w) => `${w.namespace}/${w.name}` === workload)!.ports.map((p) => p.port);
  const jobs = exps.map((e) => ({
    key: e.key,
    scenario: s.name,
    meshMode,
    workload: e.workload,
    port: e.port,
    protocol: e.protocol,
    client: e.client,
    address: env.targets.get(e.workload)!.address,
    // As the run layers do: for HBONE, address:targetPort is the CONNECT authority.
    targetPort: e.client === 'hbone-unserved-port' ? hboneUnservedPort(declared(e.workload)) : env.targets.get(e.workload)!.ports.get(e.port)!,
    expectedServerIdentity: identities.get(e.workload)!.spiffeId,
  }));
  return { s, env, jobs, exps };
}

/** Every cell: the agent's outcome class is the oracle's, and the agent saw what the harness's own probe saw. */
function compare(exps: readonly Expectation[], agent: ReadonlyMap<string, Observation>, host: ReadonlyMap<string, Observation>): string[] {
  const problems: string[] = [];
  for (const e of exps) {
    const a = agent.get(e.key);
    const h = host.get(e.key);
    if (!a || !h) {
      problems.push(`${e.key}: no observation (agent ${!!a}, host ${!!h})`);
      continue;
    }
    const shape = (o: Observation) => `${o.status}/${o.status === 'allowed' ? o.path : o.status === 'denied' ? o.how : o.message}`;
    if (observedOutcome(a) !== e.outcome) problems.push(`${e.key}: oracle ${e.outcome}, agent ${shape(a)}`);
    if (shape(a) !== shape(h)) problems.push(`${e.key}: agent ${shape(a)}, host probe ${shape(h)}`);
    if (a.status === 'allowed' && h.status === 'allowed') {
      if (JSON.stringify(a.echo) !== JSON.stringify(h.echo)) problems.push(`${e.key}: echo ${JSON.stringify(a.echo)} vs ${JSON.stringify(h.echo)}`);
      if (JSON.stringify(a.tls ?? null) !== JSON.stringify(h.tls ?? null)) problems.push(`${e.key}: tls evidence ${JSON.stringify(a.tls)} vs ${JSON.stringify(h.tls)}`);
    }
    // Istio's metadata exchange: both read the same preamble from the same proxy (or saw none).
    if (JSON.stringify(a.mx ?? null) !== JSON.stringify(h.mx ?? null)) problems.push(`${e.key}: mx ${JSON.stringify(a.mx)} vs ${JSON.stringify(h.mx)}`);
  }
  return problems;
}

describe('probe agent: batch protocol over one stream, against real workloads', function () {
  this.timeout(120_000);
  let pki: MeshPki;
  before(async () => {
    // The bundle these tests spawn, from the current src/agent (the build made it; a stale one is rebuilt here).
    await ensureProbeAgent(harnessDir);
    pki = createMeshPki({ trustDomain: 'cluster.local' });
  });

  it('local backend: one session, several batches; every cell matches the oracle and the host probes', async () => {
    const backend = createLocalBackend();
    const started: Started[] = [];
    try {
      for (const f of SCENARIOS) started.push(await start(backend, f, pki, 'agent-local'));
      const session = await openAgentSession(localAgentStream(), { timeoutMs: 3000, concurrency: 16, material: pki.probeMaterial() }, 'local agent');
      expect([...session.credentials].sort()).to.deep.equal(['expired', 'foreignCa', 'mesh', 'otherTrustDomain']);
      const ctx = createProbeContext(pki.probeMaterial());
      let cells = 0;
      let mxSeen = 0;
      for (const st of started) {
        const agent = await session.probe(st.jobs);
        const host = await runProbes(st.jobs, ctx, { concurrency: 16, timeoutMs: 3000 });
        expect(agent.size).to.equal(st.jobs.length);
        expect(compare(st.exps, agent, host)).to.deep.equal([]);
        cells += st.jobs.length;
        for (const j of st.jobs) {
          const o = agent.get(j.key);
          if (j.client !== 'mtls-tcp' || o?.status !== 'allowed' || o.path !== 'mtls') continue;
          // The reference sidecar wrote its preamble, naming the target workload.
          const [namespace, workload] = j.workload.split('/');
          expect(o.mx, j.key).to.deep.equal({ seen: true, workload, namespace });
          mxSeen++;
        }
      }
      expect(mxSeen).to.be.greaterThan(0);
      // The same stream again: a second round over every cell.
      const again = await session.probe(started[0]!.jobs);
      expect([...again.values()].map((o) => o.status)).to.not.include('error');
      await session.close();
      expect(cells).to.equal(27 + 18 + 18);
    } finally {
      await Promise.all(started.map((x) => x.env.stop()));
    }
  });

  it('local backend, ambient: the six HBONE clients (and the captured direct ones) against the reference ambient data plane match the oracle and the host probes', async () => {
    const backend = createLocalBackend();
    const started: Started[] = [];
    try {
      for (const f of AMBIENT_SCENARIOS) started.push(await start(backend, f, pki, 'agent-ambient', 'ambient'));
      const session = await openAgentSession(localAgentStream(), { timeoutMs: 3000, concurrency: 16, material: pki.probeMaterial() }, 'local agent (ambient)');
      const ctx = createProbeContext(pki.probeMaterial());
      const seen = new Map<string, Set<string>>();
      let hboneCells = 0;
      for (const st of started) {
        const agent = await session.probe(st.jobs);
        const host = await runProbes(st.jobs, ctx, { concurrency: 16, timeoutMs: 3000 });
        expect(agent.size).to.equal(st.jobs.length);
        expect(compare(st.exps, agent, host)).to.deep.equal([]);
        for (const e of st.exps.filter((x) => isHboneClient(x.client))) {
          hboneCells++;
          const a = agent.get(e.key)!;
          if (!seen.has(e.client)) seen.set(e.client, new Set());
          // How a TLS-level refusal shows (alert or close) depends on the TLS stack; compare() holds it to the host probe's.
          const how = a.status === 'denied' && (a.how === 'http-status' || a.how === 'protocol-error') ? `/${a.how}/${a.httpStatus}` : '';
          seen.get(e.client)!.add(a.status === 'allowed' ? `allowed/${a.path}/${a.echo.received}` : `${a.status}${how}`);
          if (a.status === 'allowed') {
            expect(a.timings.tunnelMs, `${e.key}: CONNECT round trip`).to.be.a('number');
            expect(a.tls?.alpn, `${e.key}: ALPN`).to.equal('h2');
          }
        }
      }
      await session.close();
      // Every HBONE kind was fired, and each lands where the reference ambient proxy puts it.
      expect(Object.fromEntries([...seen].map(([k, v]) => [k, [...v].sort()]))).to.deep.equal({
        hbone: ['allowed/mtls/plaintext'],
        'hbone-no-client-cert': ['denied'],
        'hbone-foreign-ca': ['denied'],
        'hbone-expired': ['denied'],
        'hbone-other-trust-domain': ['denied'],
        'hbone-unserved-port': ['denied/http-status/503'],
      });
      expect(hboneCells).to.be.greaterThan(0);
    } finally {
      await Promise.all(started.map((x) => x.env.stop()));
    }
  });

  it("takes the mesh identity from a sidecar's exported certificates (OUTPUT_CERTS) and re-reads them per batch", async () => {
    const backend = createLocalBackend();
    const st = await start(backend, e2eScenario('strict-and-permissive'), pki, 'agent-certs');
    const dir = mkdtempSync(join(tmpdir(), 'mc-output-certs-'));
    try {
      // What an Istio sidecar writes: its certificate chain, its key, the mesh root.
      const exported = pki.issueWorkload({ namespace: 'meshconform-probe-x', serviceAccount: 'probe-client' });
      writeFileSync(join(dir, 'cert-chain.pem'), exported.certPem);
      writeFileSync(join(dir, 'key.pem'), exported.keyPem, { mode: 0o600 });
      writeFileSync(join(dir, 'root-cert.pem'), pki.meshCaPem);
      const own = pki.probeMaterial();
      const material: AgentMaterial = { appCaPem: own.appCaPem, clients: { foreignCa: own.clients.foreignCa } };
      const session = await openAgentSession(
        localAgentStream(),
        { timeoutMs: 3000, concurrency: 8, material, istioOutputCerts: dir, waitForCertsMs: 2000 },
        'agent with exported certs',
      );
      expect([...session.credentials].sort()).to.deep.equal(['foreignCa', 'mesh']);
      expect(session.meshIdentity).to.equal('spiffe://cluster.local/ns/meshconform-probe-x/sa/probe-client');
      const wanted = st.jobs.filter((j) => ['mtls-tcp', 'mtls-foreign-ca', 'plaintext-tcp', 'mtls-expired'].includes(j.client));
      const obs = await session.probe(wanted);
      for (const j of wanted) {
        const o = obs.get(j.key)!;
        const e = st.exps.find((x) => x.key === j.key)!;
        if (j.client === 'mtls-expired') {
          // No expired credential without the mesh CA key: the agent says so, it never guesses.
          expect(o).to.deep.include({ status: 'error' });
          expect((o as { message: string }).message).to.match(/no client certificate material for mtls-expired/);
        } else {
          expect(observedOutcome(o), j.key).to.equal(e.outcome);
        }
      }
      // Rotation: the sidecar replaces its certificate; the next batch presents the new one (here from another CA,
      // so a STRICT port now refuses it: proof that the file was re-read).
      const rotated = createMeshPki({ trustDomain: 'cluster.local' }).issueWorkload({ namespace: 'other', serviceAccount: 'probe-client' });
      writeFileSync(join(dir, 'cert-chain.pem'), rotated.certPem);
      writeFileSync(join(dir, 'key.pem'), rotated.keyPem);
      const strictMtls = st.jobs.filter((j) => j.client === 'mtls-tcp' && j.workload === 'foo/finance');
      const after = await session.probe(strictMtls);
      for (const j of strictMtls) expect(observedOutcome(after.get(j.key)!), `${j.key} after rotation to a certificate of another CA`).to.equal('deny');
      await session.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await st.env.stop();
    }
  });

  it('bad input on the stream is one error line and exit 2; bad jobs are error observations, never denials', async () => {
    const run = (lines: string[]) => execa(process.execPath, [agentPath], { input: lines.join('\n') + '\n', reject: false, timeout: 20_000 });
    const hello = JSON.stringify({ type: 'hello', protocol: 1, timeoutMs: 500, concurrency: 2, material: pki.probeMaterial() });
    const errorOf = (stdout: string) =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; message?: string })
        .find((m) => m.type === 'error');

    const notJson = await run(['{oops']);
    expect(notJson.exitCode).to.equal(2);
    expect(errorOf(notJson.stdout)?.message).to.match(/not a JSON line/);

    const noHello = await run([JSON.stringify({ type: 'batch', id: 'x', jobs: [] })]);
    expect(noHello.exitCode).to.equal(2);
    expect(errorOf(noHello.stdout)?.message).to.match(/first message must be "hello"/);

    const badProtocol = await run([JSON.stringify({ type: 'hello', protocol: 9, timeoutMs: 500, concurrency: 1, material: pki.probeMaterial() })]);
    expect(errorOf(badProtocol.stdout)?.message).to.match(/unsupported protocol 9/);

    const noMaterial = await run([JSON.stringify({ type: 'hello', protocol: 1, timeoutMs: 500, concurrency: 1, material: { clients: {} } })]);
    expect(errorOf(noMaterial.stdout)?.message).to.match(/appCaPem must be a PEM string/);

    const dup = { key: 'k', workload: 'a/b', port: 1, protocol: 'tcp', client: 'plaintext-tcp', address: '127.0.0.1', targetPort: 1, expectedServerIdentity: '' };
    const duplicate = await run([hello, JSON.stringify({ type: 'batch', id: 'b', jobs: [dup, dup] })]);
    expect(duplicate.exitCode).to.equal(2);
    expect(errorOf(duplicate.stdout)?.message).to.match(/duplicate job key "k"/);

    const unknown = await run([hello, JSON.stringify({ type: 'probe' })]);
    expect(errorOf(unknown.stdout)?.message).to.match(/unknown message type "probe"/);

    // Jobs the agent cannot run are error observations in a completed batch; the session goes on and ends cleanly.
    const jobs = [
      { ...dup, key: 'hbone', client: 'hbone-unserved-port' },
      { ...dup, key: 'unknown-client', client: 'carrier-pigeon' },
      { ...dup, key: 'no-address', address: 'not-an-ip' },
      { ...dup, key: 'bad-port', targetPort: 0 },
    ];
    const ok = await run([hello, JSON.stringify({ type: 'batch', id: 'b1', jobs }), JSON.stringify({ type: 'end' })]);
    expect(ok.exitCode, ok.stderr).to.equal(0);
    const msgs = ok.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; key?: string; observation?: Observation });
    expect(msgs[0]).to.deep.include({ type: 'ready', protocol: 1, agent: 'meshconform-probe-agent' });
    const obs = new Map(msgs.filter((m) => m.type === 'observation').map((m) => [m.key!, m.observation!]));
    expect(obs.get('hbone')).to.deep.include({ status: 'error' });
    expect((obs.get('hbone') as { message: string }).message).to.match(/names the served port 1 as its CONNECT target/);
    expect((obs.get('unknown-client') as { message: string }).message).to.match(/unknown client kind "carrier-pigeon"/);
    expect((obs.get('no-address') as { message: string }).message).to.match(/target address must be an IP address/);
    expect((obs.get('bad-port') as { message: string }).message).to.match(/bad target port 0/);
    expect(msgs.at(-1)).to.deep.equal({ type: 'done', batch: 'b1', count: 4 });
  });

  it('a session whose agent dies is a harness error naming the agent, not a denial', async () => {
    const stream = localAgentStream();
    const session = await openAgentSession(stream, { timeoutMs: 1000, concurrency: 1, material: pki.probeMaterial() }, 'doomed agent');
    stream.kill();
    let error: Error | undefined;
    try {
      await session.probe([
        {
          key: 'k',
          scenario: 's',
          meshMode: 'sidecar',
          workload: 'a/b',
          port: 1,
          protocol: 'tcp',
          client: 'plaintext-tcp',
          address: '127.0.0.1',
          targetPort: 9,
          expectedServerIdentity: '',
        },
      ]);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.name).to.equal('BackendError');
    expect(error?.message).to.match(/doomed agent: the probe agent session ended unexpectedly/);
  });

  it('docker backend: the agent inside a workload container (docker exec -i) agrees with the oracle and the host probes', async function () {
    const docker: Dockerode | undefined = await dockerOrUndefined();
    requireCapability(this, docker !== undefined, 'a Docker engine (DOCKER_HOST)');
    const hasCli = (await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false })).exitCode === 0;
    requireCapability(this, hasCli, 'the docker CLI talking to the engine');
    const backend = createDockerBackend({ harnessDir: harnessFile('') });
    const runId = `agent-docker-${Date.now()}`;
    const st = await start(backend, e2eScenario('strict-and-permissive'), pki, runId);
    try {
      const [box] = await docker!.listContainers({ filters: JSON.stringify({ label: [`meshconform.run=${runId}`, 'meshconform.workload=bar/web'] }) });
      const session = await openAgentSession(dockerAgentStream(box!.Id), { timeoutMs: 3000, concurrency: 16, material: pki.probeMaterial() }, 'agent in a container');
      const agent = await session.probe(st.jobs);
      await session.close();
      const host = await runProbes(st.jobs, createProbeContext(pki.probeMaterial()), { concurrency: 16, timeoutMs: 3000 });
      expect(agent.size).to.equal(27);
      expect(compare(st.exps, agent, host)).to.deep.equal([]);
    } finally {
      await st.env.stop();
      await backend.removeRun(runId);
    }
  });
});
