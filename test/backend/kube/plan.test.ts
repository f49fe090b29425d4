// The kind and cluster backends up to the cluster boundary: the exact command sequence (golden, through an injected
// runner), the dry-run plan, every failure path with its message and the clean-up commands that ran, and a full
// simulated kind run whose probe agent is a real process probing real workloads (local backend).
import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createDryRunRunner,
  createExecaRunner,
  createKubeBackend,
  type ClusterBackendOptions,
  type CommandRunner,
  type KindBackendOptions,
  type KubeBackend,
} from '../../../src/backend/kube/index.js';
import { createLocalBackend } from '../../../src/backend/local/index.js';
import { createMeshPki } from '../../../src/pki/index.js';
import { validateRunResult } from '../../../src/report/index.js';
import { echoArgv, resolveDataPlane } from '../../../src/run/data-plane.js';
import type { Environment, PeerAuthenticationManifest, Scenario, WorkloadTls } from '../../../src/model/index.js';
import { attachmentId } from '../../../src/backend/common/host-evidence.js';
import {
  RUN_ID,
  ScriptedRunner,
  runKubeSuite,
  recordingScope,
  teardowns,
  type KubeSuiteOptions,
  e2eScenario,
  fixture,
  harnessDir,
  localAgentStream,
  normalize,
  podsResponder,
  scenario,
  sessionOptions,
  environmentOptions,
  type Responder,
} from './support.js';

/** The attachment ids of the late-apply scenario's proxies (bounded, with a hash of what they name). */
const FINANCE_ID = attachmentId('kube', 'late-apply', 'foo/finance');
const ZTUNNEL_ID = attachmentId('kube', 'late-apply', 'ztunnel', 'ztunnel-x7k2p');
const GOLDEN_DIR = new URL('./golden/', import.meta.url);
const UPDATE = process.env.MESHCONFORM_UPDATE_GOLDEN === '1';

/** Compares with a golden file (written when MESHCONFORM_UPDATE_GOLDEN=1). PEM blocks and harness file hashes are masked. */
function golden(name: string, actual: string): void {
  const text = mask(actual);
  const file = new URL(name, GOLDEN_DIR);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) throw new Error(`golden file ${name} is missing: run with MESHCONFORM_UPDATE_GOLDEN=1 and review it`);
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
  }
  expect(text).to.equal(readFileSync(file, 'utf8'));
}

function mask(text: string): string {
  return normalize(text)
    .replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g, '<certificate>')
    .replace(/\d+ bytes, sha256 [0-9a-f]+…/g, '<size> bytes, sha256 <hash>…');
}

function kind(runner: CommandRunner, extra: Partial<KindBackendOptions> = {}): KubeBackend {
  return createKubeBackend({
    backend: 'kind',
    runner,
    harnessDir,
    podReadyTimeoutMs: 120_000,
    scope: recordingScope(),
    sleep: async () => {},
    keep: false,
    istioProfile: 'default',
    installTimeoutMs: 600_000,
    buildImage: async () => 'meshconform/node-harness:0123456789abcdef',
    ...extra,
  });
}

function cluster(runner: CommandRunner, extra: Partial<ClusterBackendOptions> = {}): KubeBackend {
  return createKubeBackend({
    backend: 'cluster',
    runner,
    harnessDir,
    podReadyTimeoutMs: 120_000,
    scope: recordingScope(),
    sleep: async () => {},
    context: 'vendor-prod',
    image: 'registry.example/node:20-slim',
    injectionLabel: ['istio.io/rev', 'stable'],
    rootNamespace: 'istio-system',
    allowMeshPolicies: false,
    meshModes: ['sidecar'],
    ...extra,
  });
}

function suite(backend: KubeBackend, scenarios: Scenario[], extra: Partial<KubeSuiteOptions> = {}): KubeSuiteOptions {
  return {
    scenarios,
    paths: ['test'],
    backend,
    runId: RUN_ID,
    concurrency: 16,
    timeoutMs: 3000,
    convergence: { successes: 2, deadlineMs: 20_000, intervalMs: 50 },
    dataPlaneName: 'istio (kind)',
    ...extra,
  };
}

/** Scripted answers of a healthy cluster; `more` first. */
function healthy(more: Responder = () => undefined): Responder {
  return async (argv, input) =>
    (await more(argv, input)) ?? (argv[0] === 'istioctl' && argv.includes('version') ? { stdout: '{"clientVersion":{"version":"1.24.2"}}' } : undefined);
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += String(chunk);
    cb();
  }
}

describe('kind and cluster backends: plans, command sequences and failure paths', function () {
  this.timeout(120_000);
  beforeEach(() => teardowns.splice(0));

  it('kind: the full run, simulated: exact command sequence (golden), real agent probing real workloads, all clean-up', async () => {
    const s = await scenario(fixture('kube-mix'));
    const pki = createMeshPki({ trustDomain: s.trustDomain });
    const identities = new Map<string, WorkloadTls>(
      s.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
    );
    // The "pods": the reference data plane on loopback, started without policies; the apply sends them SIGHUP.
    const env = await createLocalBackend().start({
      runId: 'kube-sim',
      scenario: { ...s, policies: [] },
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 15_000,
    });
    try {
      const runner = new ScriptedRunner(healthy(podsResponder(s, env)), () => localAgentStream());
      const result = await runKubeSuite(suite(kind(runner), [s], { pki }));
      expect(result).to.not.equal(undefined);
      const r = result!;
      expect(r.environment).to.deep.include({ backend: 'kind', dataPlane: 'istio (kind)' });
      expect(r.environment.details).to.deep.include({ context: 'kind-meshconform-abc123', istioProfile: 'default' });
      const cells = r.scenarios[0]!.cells;
      expect(cells.length).to.equal(4 * 9);
      expect(r.summary, JSON.stringify(cells.filter((c) => c.verdict !== 'pass').map((c) => c.reason))).to.deep.include({ cells: 36, passed: 36, failed: 0, errors: 0 });
      const timeline = r.scenarios[0]!.timeline!;
      expect(timeline.events).to.deep.equal([{ atMs: 0, label: 'policies applied' }]);
      expect(timeline.timeToEnforceMs).to.be.a('number');
      expect(timeline.probes.length).to.be.at.least(36 * 2);
      expect(
        cells.every((c) =>
          /Enforced \d+ ms after the apply \(2 matching results in a row, and once more after every cell converged\)\. Evidence of the new configuration: /.test(c.reason),
        ),
      ).to.equal(true);
      // Cells the old configuration (no policy: PERMISSIVE) already satisfied counted only after a sibling changed.
      expect(cells.find((c) => c.key.endsWith('foo/finance|9090|mtls-http'))!.reason).to.match(
        /Evidence of the new configuration: another cell of the same proxy changed from its baseline\.$/,
      );
      expect(cells.find((c) => c.key.endsWith('bar/web|8080|plaintext-tcp'))!.reason).to.match(
        /Evidence of the new configuration: it differs from what the cell showed before the apply\.$/,
      );
      // The node image pinned for the istioctl on PATH (1.24.2): the newest Kubernetes Istio 1.24 supports.
      expect(r.environment.details).to.deep.include({
        istioVersion: '1.24.2',
        kindNodeImage: 'kindest/node:v1.31.12@sha256:0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2',
      });
      expect(cells.find((c) => c.key.endsWith('foo/finance|8080|mtls-tcp'))!.observed!.attempts).to.be.at.least(2);
      // The report of a kube run is an ordinary RunResult: every reporter and `compare` read it.
      const valid = validateRunResult(JSON.parse(JSON.stringify(r)));
      expect(valid.valid, JSON.stringify(valid)).to.equal(true);
      golden('kind-run.txt', runner.transcript());
      // One exec for the whole run, never one per probe.
      expect(runner.calls.filter((c) => c.kind === 'stream').length).to.equal(1);
      expect(teardowns, 'every registered clean-up ran and was unregistered').to.deep.equal([]);
    } finally {
      await env.stop();
    }
  });

  it('simulated kind run: a mesh that applies the policy late and wrongly fails the cell its old configuration satisfied', async () => {
    const s = await scenario(fixture('late-apply'));
    const pki = createMeshPki({ trustDomain: s.trustDomain });
    const identities = new Map<string, WorkloadTls>([['foo/finance', pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' })]]);
    const env = await createLocalBackend().start({
      runId: 'kube-late',
      scenario: { ...s, policies: [] },
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 15_000,
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      // The apply returns at once; the mesh changes 1.5 s later, and wrongly: the port exception is dropped.
      const wrong = s.policies.map((p) => {
        const { portLevelMtls: _, ...spec } = (p.manifest as PeerAuthenticationManifest).spec ?? {};
        return { ...(p.manifest as PeerAuthenticationManifest), spec };
      });
      const lateApply: Responder = (argv, input) => {
        if (!(argv.includes('apply') && input?.includes('kind: PeerAuthentication'))) return undefined;
        timer = setTimeout(() => void env.applyPolicies(wrong), 1500);
        return {};
      };
      // The proxy's side, as the pipeline asks for it before the namespaces go: a log line from long before (left
      // out), one without a timestamp (kept), a listener istioctl cannot read (left out), secrets with a key (redacted).
      const key = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' }).keyPem;
      const mesh: Responder = (argv, input) => {
        if (argv.includes('logs')) return { stdout: 'envoy: a line without a timestamp\n[2020-01-01T00:00:00.000Z] "- - -" 0 - long before' };
        if (argv.includes('listener')) return { exitCode: 1, stderr: 'Error: failed to execute command on sidecar' };
        if (argv[0] === 'istioctl' && argv.includes('secret')) {
          return { stdout: JSON.stringify({ dynamicActiveSecrets: [{ name: 'default', secret: { tlsCertificate: { privateKey: { inlineString: key } } } }] }) };
        }
        return lateApply(argv, input);
      };
      const runner = new ScriptedRunner(healthy(podsResponder(s, env, mesh, { podNames: true })), () => localAgentStream());
      const r = (await runKubeSuite(suite(kind(runner), [s], { pki, convergence: { successes: 2, deadlineMs: 6000, intervalMs: 100 } })))!;
      const cell = (suffix: string) => r.scenarios[0]!.cells.find((c) => c.key.endsWith(suffix))!;
      // Port 9090 plaintext: allowed before the apply and expected allowed; the wrong late policy denies it.
      expect(cell('foo/finance|9090|plaintext-tcp').verdict, cell('foo/finance|9090|plaintext-tcp').reason).to.equal('fail');
      expect(cell('foo/finance|9090|plaintext-tcp').reason).to.match(/Evidence of the new configuration: another cell of the same proxy changed from its baseline\.$/);
      // The cell whose change revealed the new configuration passes (STRICT on 8080 is what the mesh did).
      expect(cell('foo/finance|8080|plaintext-tcp').verdict).to.equal('pass');
      expect(r.summary.failed).to.be.at.least(1);
      // The failing cell carries the proxy's side; the passing one none.
      expect(cell('foo/finance|9090|plaintext-tcp').evidence).to.deep.equal({
        logs: {
          source: cell('foo/finance|9090|plaintext-tcp').evidence!.logs!.source,
          lines: [{ atMs: cell('foo/finance|9090|plaintext-tcp').evidence!.logs!.lines[0]!.atMs, stream: 'stdout', text: 'envoy: a line without a timestamp' }],
        },
        attachments: [`${FINANCE_ID}-secret`],
      });
      expect(cell('foo/finance|9090|plaintext-tcp').evidence!.logs!.source).to.match(
        /^kubectl --context kind-meshconform-abc123 -n foo logs finance-pod -c istio-proxy --since-time=\S+Z$/,
      );
      expect(cell('foo/finance|8080|plaintext-tcp').evidence).to.equal(undefined);
      const attachments = r.scenarios[0]!.attachments!;
      expect(attachments.map((a) => a.id)).to.deep.equal([`${FINANCE_ID}-secret`]);
      expect(JSON.parse(attachments[0]!.text).dynamicActiveSecrets[0].secret.tlsCertificate.privateKey).to.equal('[redacted]');
      expect(JSON.stringify(r)).to.not.include(key.split('\n')[1]);
      const valid = validateRunResult(JSON.parse(JSON.stringify(r)));
      expect(valid.valid, JSON.stringify(valid)).to.equal(true);
    } finally {
      clearTimeout(timer);
      await env.stop();
    }
  });

  it('--dry-run prints the commands a real run executes, in order, and executes nothing', async () => {
    const s = await scenario(fixture('kube-mix'));
    const out = new Sink();
    const dry = createDryRunRunner(out);
    // Planned for the istioctl the simulated run finds (1.24.2): the same pinned node image.
    const log = (l: string) => void out.write(`# ${l}\n`);
    const result = await runKubeSuite(suite(kind(dry, { istioVersion: '1.24', log }), [s], { log }));
    expect(result).to.equal(undefined);
    // The plan shows the pinned image, the baseline round and (cluster test below) the preflight checks.
    expect(out.text).to.match(
      /# meshconform: kind node image kindest\/node:v1\.31\.12@sha256:[0-9a-f]{64} \(Kubernetes 1\.31\.12, pinned for Istio 1\.24, which supports Kubernetes 1\.28 - 1\.31; built by kind v0\.30\.0\)/,
    );
    expect(out.text).to.match(/\$ kind create cluster --name meshconform-abc123 --image kindest\/node:v1\.31\.12@sha256:/);
    expect(out.text).to.match(/# baseline: one round of 36 probes before the apply/);
    const planned = out.text
      .split('\n')
      .filter((l) => l.startsWith('$ '))
      .map((l) => l.replace(/ <<'\w+'$/, ''));
    const real = mask(readFileSync(new URL('kind-run.txt', GOLDEN_DIR), 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('$ '))
      .map((l) => l.replace(/ <<'\w+'$/, ''));
    const image = (l: string) => l.replace("'<meshconform/node-harness image, built locally>'", 'meshconform/node-harness:0123456789abcdef');
    expect(planned.map((l) => image(mask(l)))).to.deep.equal(real);
    golden('kind-dry-run.txt', out.text);
    expect(out.text).to.not.match(/PRIVATE KEY/);
    expect(out.text).to.match(/<redacted: private key>/);
    expect(out.text).to.match(/# probe: 36 jobs per round/);
  });

  it("cluster: existing mesh, no install; namespaces labelled and removed; the agent takes its sidecar's identity (golden plan)", async () => {
    const s = await scenario(e2eScenario('strict-and-permissive'));
    const out = new Sink();
    const result = await runKubeSuite(suite(cluster(createDryRunRunner(out)), [s], { dataPlaneName: 'mesh of context vendor-prod' }));
    expect(result).to.equal(undefined);
    expect(out.text).to.not.match(/istioctl|kind /);
    expect(out.text).to.match(/auth can-i create namespaces --all-namespaces/);
    expect(out.text).to.match(/istio\.io\/rev: stable/);
    expect(out.text).to.match(/OUTPUT_CERTS: \/etc\/istio-output-certs/);
    expect(out.text).to.match(/"istioOutputCerts":"\/etc\/istio-output-certs"/);
    golden('cluster-dry-run.txt', out.text);
  });

  it('cluster: a scenario with mesh-wide policies is skipped (with the reason) unless --allow-mesh-policies', async () => {
    const s = await scenario(fixture('kube-mix'));
    const b = cluster(new ScriptedRunner());
    expect(b.unsupported(s, 'sidecar')).to.match(/mesh-wide policies in istio-system, .* pass --allow-mesh-policies/);
    expect(cluster(new ScriptedRunner(), { allowMeshPolicies: true }).unsupported(s, 'sidecar')).to.equal(undefined);
    expect(kind(new ScriptedRunner()).unsupported(s, 'ambient')).to.match(/ambient mode needs --istio-profile ambient/);
    const custom = await scenario(join(harnessDir, '../scenarios/core/mesh-custom-root-namespace.yaml'));
    expect(kind(new ScriptedRunner()).unsupported(custom, 'sidecar')).to.match(/root namespace is istio-system, the scenario's is/);
  });

  it('Istio install fails: exit-2 error with what to do; the cluster the run created is deleted', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const runner = new ScriptedRunner(
      healthy((argv) =>
        argv[0] === 'istioctl' && argv.includes('install')
          ? { exitCode: 1, stderr: 'Error: failed to install manifests: context deadline exceeded\n✘ Istiod encountered an error' }
          : undefined,
      ),
    );
    const err = await rejects(runKubeSuite(suite(kind(runner), [s])));
    expect(err.name).to.equal('BackendError');
    expect(err.message).to.match(/the Istio install failed \(istioctl install, default profile\): .*context deadline exceeded.*What to do: rerun with --keep/);
    const lines = runner.lines();
    const install = lines.findIndex((l) => l.includes('istioctl --context kind-meshconform-abc123 install'));
    expect(lines.slice(install + 1)).to.deep.equal(['$ kind delete cluster --name meshconform-abc123']);
    expect(teardowns).to.deep.equal([]);
  });

  it('--keep leaves the created cluster (no kind delete), even when the run fails', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const runner = new ScriptedRunner(healthy((argv) => (argv[0] === 'istioctl' && argv.includes('install') ? { exitCode: 1, stderr: 'boom' } : undefined)));
    await rejects(runKubeSuite(suite(kind(runner, { keep: true }), [s])));
    expect(runner.lines().some((l) => l.startsWith('$ kind delete'))).to.equal(false);
  });

  it('a pod that never becomes ready: the pod states in the message, exit-2 error, namespaces, probe pod and cluster removed', async () => {
    const s = await scenario(e2eScenario('strict-and-permissive'));
    const runner = new ScriptedRunner(
      healthy((argv) => {
        if (argv.includes('wait') && argv.includes('foo')) return { exitCode: 1, stderr: 'error: timed out waiting for the condition on deployments/finance' };
        if (argv.includes('-o') && argv.includes('wide')) return { stdout: 'finance-7d9f-abcde   1/2   ImagePullBackOff   0   2m   10.244.0.7   kind-control-plane' };
        return undefined;
      }),
      () => localAgentStream(),
    );
    const err = await rejects(runKubeSuite(suite(kind(runner), [s])));
    expect(err.message).to.match(
      /the pods of the workloads of scenario strict-and-permissive in namespace foo did not become ready within 120 s: finance-7d9f-abcde 1\/2 ImagePullBackOff .*What to do: kubectl --context kind-meshconform-abc123 -n foo describe pods/,
    );
    const lines = runner.lines();
    const failed = lines.findIndex((l) => l.includes('get pods -o wide'));
    expect(lines.slice(failed + 1)).to.deep.equal([
      `$ kubectl --context kind-meshconform-abc123 delete peerauthentications.security.istio.io --all-namespaces -l meshconform.run=${RUN_ID} --ignore-not-found`,
      '$ kubectl --context kind-meshconform-abc123 delete namespace foo bar --ignore-not-found --wait=true --timeout=300s',
      '$ kubectl --context kind-meshconform-abc123 delete namespace meshconform-probe-abc123 --ignore-not-found --wait=true --timeout=300s',
      '$ kind delete cluster --name meshconform-abc123',
    ]);
  });

  it('the API server (CRD rules, 422) or the webhook refuses a policy: an error for an ordinary scenario, a scenario result for an admission scenario', async () => {
    // Istio 1.23+: the CRD's x-kubernetes-validations rule (istio/api security/v1beta1/peer_authentication.proto,
    // XValidation message "portLevelMtls requires selector") fails in the API server: 422 Invalid, message
    // `%s %q is invalid: %v` (k8s.io/apimachinery pkg/api/errors NewInvalid), printed by kubectl as
    // "Error from server (%s): %s" (k8s.io/kubectl pkg/cmd/util/helpers.go).
    const crd = {
      exitCode: 1,
      stderr: 'Error from server (Invalid): PeerAuthentication.security.istio.io "finance" is invalid: spec: Invalid value: "object": portLevelMtls requires selector',
    };
    // Istio 1.22: istiod's webhook answers "configuration is invalid: %v" (pkg/webhooks/validation/server/server.go)
    // with pkg/config/validation's "mesh/namespace peer authentication cannot have port level mTLS"; the API server
    // wraps it as `admission webhook %q denied the request: %s`, code 400 (k8s.io/apiserver webhook/errors ToStatusErr).
    const denied = {
      exitCode: 1,
      stderr:
        'Error from server (BadRequest): admission webhook "validation.istio.io" denied the request: configuration is invalid: mesh/namespace peer authentication cannot have port level mTLS',
    };
    const rejectWith =
      (answer: { exitCode: number; stderr: string }): Responder =>
      (argv, input) =>
        argv.includes('apply') && input?.includes('kind: PeerAuthentication') ? answer : undefined;
    const rejectPolicies = rejectWith(denied);
    const ordinary = await scenario(e2eScenario('port-level-disable'));
    const r1 = new ScriptedRunner(healthy(rejectPolicies), () => localAgentStream());
    const err = await rejects(runKubeSuite(suite(kind(r1), [ordinary])));
    expect(err.message).to.match(/scenario port-level-disable: the admission webhook rejected its policies: .*cannot have port level mTLS.*label it "admission: reject"/);
    expect(r1.lines().at(-1)).to.equal('$ kind delete cluster --name meshconform-abc123');

    const admission = await scenario(fixture('admission-reject'));
    const r2 = new ScriptedRunner(healthy(rejectPolicies), () => localAgentStream());
    const result = (await runKubeSuite(suite(kind(r2), [admission])))!;
    const sr = result.scenarios[0]!;
    expect(sr.skipped).to.match(/admission scenario: the admission webhook rejected the policy set, as the scenario expects/);
    expect(sr.cells.every((c) => c.verdict === 'skipped')).to.equal(true);
    expect(result.summary.failed + result.summary.errors).to.equal(0);
    expect(r2.lines().at(-1)).to.equal('$ kind delete cluster --name meshconform-abc123');
    // Before an admission scenario: istiod's validating webhook must fail closed.
    expect(r2.lines()).to.include('$ kubectl --context kind-meshconform-abc123 get validatingwebhookconfigurations -l app=istiod -o json');

    // The CRD layer: recognised and named, though "denied the request" never appears.
    const r2b = new ScriptedRunner(healthy(rejectWith(crd)), () => localAgentStream());
    const viaCrd = (await runKubeSuite(suite(kind(r2b), [admission])))!;
    expect(viaCrd.scenarios[0]!.skipped).to.match(
      /the API server \(the CRD's validation rules, 422 Invalid\) rejected the policy set, as the scenario expects \(.*portLevelMtls requires selector\)/,
    );
    const r2c = new ScriptedRunner(healthy(rejectWith(crd)), () => localAgentStream());
    const e2 = await rejects(runKubeSuite(suite(kind(r2c), [ordinary])));
    expect(e2.message).to.match(/the API server \(the CRD's validation rules, 422 Invalid\) rejected its policies/);

    // Labelled as an admission test, but the webhook accepts: the scenario could not test what it says (error).
    const s3 = await scenario(fixture('admission-reject'));
    const pki = createMeshPki({ trustDomain: s3.trustDomain });
    const env = await createLocalBackend().start({
      runId: 'adm',
      scenario: s3,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities: new Map([['foo/finance', pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' })]]),
      appTls: pki.appIdentity(),
      readyTimeoutMs: 15_000,
    });
    try {
      const r3 = new ScriptedRunner(healthy(podsResponder(s3, env)), () => localAgentStream());
      const res = (await runKubeSuite(suite(kind(r3), [s3], { pki })))!;
      expect(res.scenarios[0]!.error).to.match(/expected to be refused \(CRD validation or the webhook\), but it was accepted/);
      expect(res.summary.errors).to.equal(res.summary.cells);
    } finally {
      await env.stop();
    }
  });

  it('bad input: no kind or istioctl on PATH, a wrong istioctl version, a missing --kind-cluster (exit-2 errors, nothing created)', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const empty = mkdtempSync(join(tmpdir(), 'mc-path-'));
    const fake = mkdtempSync(join(tmpdir(), 'mc-path-'));
    try {
      // The real runner with a PATH that has no kind at all.
      const noKind = createExecaRunner({ env: { PATH: empty } });
      const e1 = await rejects(runKubeSuite(suite(kind(noKind), [s])));
      expect(e1.message).to.match(/^kind is not on PATH: .*What to do: install kind \(https:\/\/kind\.sigs\.k8s\.io/);
      // kind and kubectl that answer, no istioctl.
      for (const tool of ['kind', 'kubectl']) {
        writeFileSync(join(fake, tool), '#!/bin/sh\necho "fake $0 $*"\n');
        chmodSync(join(fake, tool), 0o755);
      }
      const noIstioctl = createExecaRunner({ env: { PATH: fake } });
      const e2 = await rejects(runKubeSuite(suite(kind(noIstioctl), [s])));
      expect(e2.message).to.match(/^istioctl is not on PATH: .*download-istio-release/);
      expect(teardowns).to.deep.equal([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
      rmSync(fake, { recursive: true, force: true });
    }
    const wrong = new ScriptedRunner((argv) => (argv[0] === 'istioctl' ? { stdout: '{"clientVersion":{"version":"1.23.1"}}' } : undefined));
    const e3 = await rejects(runKubeSuite(suite(kind(wrong, { istioVersion: '1.24' }), [s])));
    expect(e3.message).to.match(/istioctl on PATH is version 1\.23\.1, but --istio-version asks for 1\.24\. What to do: put istioctl 1\.24 first on PATH/);
    expect(wrong.lines()).to.deep.equal(['$ kind version', '$ kubectl version --client -o json', '$ istioctl version --remote=false -o json']);

    const reuse = new ScriptedRunner(healthy((argv) => (argv.join(' ') === 'kind get clusters' ? { stdout: 'dev\nmeshconform-old' } : undefined)));
    const e4 = await rejects(runKubeSuite(suite(kind(reuse, { kindCluster: 'staging' }), [s])));
    expect(e4.message).to.match(/--kind-cluster staging: kind has no such cluster \(it has: dev, meshconform-old\)/);
    expect(reuse.lines().some((l) => /create|delete|apply/.test(l))).to.equal(false);
  });

  it('bad input: a context that does not exist (real kubectl, empty kubeconfig, nothing contacted), no permission to create namespaces', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const dir = mkdtempSync(join(tmpdir(), 'mc-kubeconfig-'));
    try {
      writeFileSync(join(dir, 'config'), '');
      const real = createExecaRunner({ env: { KUBECONFIG: join(dir, 'config') } });
      const e1 = await rejects(runKubeSuite(suite(cluster(real, { context: 'does-not-exist' }), [s])));
      expect(e1.message).to.match(/^kubeconfig has no context "does-not-exist" \(it has none\)\. What to do: pass an existing one with --context/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const denied = new ScriptedRunner((argv) =>
      argv.includes('can-i') && (argv.includes('namespaces') || argv.includes('pods/exec')) ? { exitCode: 1, stdout: 'no' } : undefined,
    );
    const e2 = await rejects(runKubeSuite(suite(cluster(denied), [s])));
    expect(e2.message).to.match(
      /the user of context vendor-prod lacks permissions the run needs: may not create namespaces, patch namespaces, get namespaces, delete namespaces, create pods\/exec \(kubectl auth can-i\)\. What to do: grant the RBAC/,
    );
    expect(denied.lines().some((l) => /apply|create secret generic/.test(l))).to.equal(false);
  });

  it('a namespace the run did not create is never used (or deleted)', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const runner = new ScriptedRunner(
      healthy((argv) => {
        if (argv.join(' ') === 'kind get clusters') return { stdout: 'dev' };
        return argv.includes('namespaces') && argv.includes('foo') && argv.includes('get')
          ? { stdout: JSON.stringify({ kind: 'Namespace', metadata: { name: 'foo', labels: { team: 'payments' } } }) }
          : undefined;
      }),
      () => localAgentStream(),
    );
    const err = await rejects(runKubeSuite(suite(kind(runner, { kindCluster: 'dev' }), [s])));
    expect(err.message).to.match(/namespace foo already exists in context kind-dev and was not created by this run/);
    expect(runner.lines().some((l) => /delete namespace foo/.test(l))).to.equal(false);
  });
});

describe('kind and cluster backends: the proxy side of failing cells (Environment.evidence)', function () {
  this.timeout(60_000);
  beforeEach(() => teardowns.splice(0));

  const POD = 'finance-7d9f-abcde';
  const POD_IP = '10.244.0.7';
  const at = (iso: string) => Date.parse(iso);
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  // A probe at 10:00:05 (window from a second before it); a second cell of the same pod probed at 10:00:09.
  const failing = {
    key: `late-apply|sidecar|foo/finance|9090|plaintext-tcp`,
    workload: 'foo/finance',
    port: 9090,
    fromMs: at('2026-01-01T10:00:04.000Z'),
    toMs: at('2026-01-01T10:00:05.300Z'),
  };
  const flaky = {
    key: `late-apply|sidecar|foo/finance|8080|mtls-tcp`,
    workload: 'foo/finance',
    port: 8080,
    fromMs: at('2026-01-01T10:00:08.500Z'),
    toMs: at('2026-01-01T10:00:09.300Z'),
  };

  /** The deployed scenario's one pod, on a kind cluster where everything else answers as a healthy one would. */
  function cluster(more: Responder): Responder {
    return healthy(async (argv, input) => {
      const r = await more(argv, input);
      if (r !== undefined) return r;
      if (argv.includes('get') && argv.includes('pods') && argv.includes('json') && argv.includes('foo')) {
        return { stdout: JSON.stringify({ items: [{ metadata: { name: POD, labels: { 'meshconform.workload': 'finance' } }, status: { phase: 'Running', podIP: POD_IP } }] }) };
      }
      return undefined;
    });
  }

  /** Opens a kind session, deploys late-apply in `mode`, and hands over its environment; closes everything after. */
  async function withEnvironment(
    runner: CommandRunner,
    mode: 'sidecar' | 'ambient',
    use: (env: Environment) => Promise<void>,
    log: (line: string) => void = () => {},
  ): Promise<void> {
    const s = await scenario(fixture('late-apply'));
    const pki = createMeshPki({ trustDomain: s.trustDomain });
    const session = await kind(runner, { log, ...(mode === 'ambient' ? { istioProfile: 'ambient' as const } : {}) }).open(sessionOptions(pki));
    try {
      const env = await session.deploy(environmentOptions(s, mode, pki));
      try {
        await use(env);
      } finally {
        await env.stop();
      }
    } finally {
      await session.close();
    }
    expect(teardowns, 'every registered clean-up ran').to.deep.equal([]);
  }

  it("sidecar: the window's log lines per cell, the listener and the secrets read once per pod and attached, private keys redacted", async () => {
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    const id = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' });
    const log = [
      'pilot-agent: starting the proxy', // no timestamp at all: kept in every window
      '2026-01-01T10:00:01.000000Z\tinfo\txdsproxy\tconnected to upstream XDS server',
      `[2026-01-01T10:00:04.812Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - ${POD_IP}:9090 10.244.0.9:51234 - -`,
      '[2026-01-01 10:00:05.100][27][debug][connection] [C42] closing socket: 1',
      '2026-01-01T10:00:05.200Z\twarn\tsds\ta key the proxy should never print:',
      ...id.keyPem.trim().split('\n'),
      '[2026-01-01T10:00:09.000Z] "- - -" 0 - - - "-" 120 120 3 - "-" "-" "-" "-" "inbound|8080||" - - 10.244.0.7:8080 10.244.0.9:51240 - -',
    ].join('\n');
    const listeners = [
      {
        name: 'virtualInbound',
        filterChains: [
          { name: '0.0.0.0_9090', filterChainMatch: { destinationPort: 9090, transportProtocol: 'tls' } },
          { name: '0.0.0.0_9090', filterChainMatch: { destinationPort: 9090, transportProtocol: 'raw_buffer' } },
          { name: 'virtualInbound', filterChainMatch: { transportProtocol: 'tls' } },
        ],
      },
    ];
    // Envoy's secrets dump (SecretsConfigDump); some versions print key material, in bytes or as a PEM string.
    const secrets = {
      dynamicActiveSecrets: [
        { name: 'default', secret: { name: 'default', tlsCertificate: { certificateChain: { inlineBytes: b64(id.certPem) }, privateKey: { inlineBytes: b64(id.keyPem) } } } },
        { name: 'ROOTCA', secret: { name: 'ROOTCA', validationContext: { trustedCa: { inlineBytes: b64(id.caPem) } } } },
        { name: 'legacy', secret: { genericSecret: { secret: { inlineString: id.keyPem } } } },
      ],
    };
    const runner = new ScriptedRunner(
      cluster((argv) => {
        if (argv.includes('logs')) return { stdout: log };
        if (argv.includes('listener')) return { stdout: JSON.stringify(listeners, null, 2) };
        if (argv.includes('secret') && argv[0] === 'istioctl') return { stdout: JSON.stringify(secrets, null, 2) };
        return undefined;
      }),
      () => localAgentStream(),
    );
    await withEnvironment(runner, 'sidecar', async (env) => {
      expect(env.evidence).to.be.a('function');
      const got = await env.evidence!([failing, flaky]);
      const ids = [`${FINANCE_ID}-listener`, `${FINANCE_ID}-secret`];
      expect(got.attachments.map((a) => a.id)).to.deep.equal(ids);
      const cell = got.cells.get(failing.key)!;
      expect(cell.attachments).to.deep.equal(ids);
      expect(cell.logs!.source).to.equal(`kubectl --context kind-meshconform-abc123 -n foo logs ${POD} -c istio-proxy --since-time=2026-01-01T10:00:04Z`);
      // Within 10:00:04–10:00:05.3, in order, the key (which spans lines) redacted to one line; the untimed line kept.
      expect(cell.logs!.lines.map((l) => l.text)).to.deep.equal([
        'pilot-agent: starting the proxy',
        log.split('\n')[2],
        '[2026-01-01 10:00:05.100][27][debug][connection] [C42] closing socket: 1',
        '2026-01-01T10:00:05.200Z\twarn\tsds\ta key the proxy should never print:',
        '-----BEGIN PRIVATE KEY----- [redacted] -----END PRIVATE KEY-----',
      ]);
      expect(cell.logs!.lines.map((l) => l.atMs)).to.deep.equal([
        failing.fromMs,
        at('2026-01-01T10:00:04.812Z'),
        at('2026-01-01T10:00:05.100Z'),
        at('2026-01-01T10:00:05.200Z'),
        at('2026-01-01T10:00:05.200Z'),
      ]);
      expect(cell.logs!.truncated).to.equal(undefined);
      // The config in force for the cell's port: the listener's own chains for 9090; 8080 falls to the catch-all chain.
      expect(cell.config!.source).to.match(
        /istioctl --context kind-meshconform-abc123 proxy-config listener finance-7d9f-abcde\.foo --port 15006 -o json \(the inbound filter chains for port 9090\)/,
      );
      expect(JSON.parse(cell.config!.text)).to.deep.equal(listeners[0]!.filterChains.slice(0, 2));
      const other = got.cells.get(flaky.key)!;
      expect(other.logs!.lines.map((l) => l.text)).to.deep.equal(['pilot-agent: starting the proxy', log.split('\n').at(-1)]);
      expect(JSON.parse(other.config!.text)).to.deep.equal([listeners[0]!.filterChains[2]]);
      // The secrets: certificates described, no key material in any form.
      const secret = got.attachments.find((a) => a.id.endsWith('-secret'))!;
      expect(secret).to.deep.include({ workload: 'foo/finance', mediaType: 'application/json' });
      const dump = JSON.parse(secret.text);
      expect(dump.dynamicActiveSecrets[0].secret.tlsCertificate.certificateChain.certificates[0].subjectAltName).to.equal('URI:spiffe://cluster.local/ns/foo/sa/finance');
      expect(dump.dynamicActiveSecrets[0].secret.tlsCertificate.privateKey).to.equal('[redacted]');
      expect(dump.dynamicActiveSecrets[1].secret.validationContext.trustedCa.certificates).to.have.length.at.least(1);
      const keyBody = id.keyPem.trim().split('\n').slice(1, -1);
      for (const text of [secret.text, JSON.stringify([...got.cells.values()])]) {
        expect(text).to.not.include(b64(id.keyPem));
        for (const line of keyBody) expect(text).to.not.include(line);
      }
      expect(secret.text).to.match(/-----BEGIN PRIVATE KEY----- \[redacted\] -----END PRIVATE KEY-----|"inline(?:String|Bytes)": "\[redacted\]"/);
      // Asked again (another round of the same scenario): the state is not read twice.
      await env.evidence!([failing]);
      const reads = runner.lines().filter((l) => l.startsWith('$ istioctl') && l.includes('proxy-config'));
      expect(reads).to.deep.equal([
        `$ istioctl --context kind-meshconform-abc123 proxy-config listener ${POD}.foo --port 15006 -o json`,
        `$ istioctl --context kind-meshconform-abc123 proxy-config secret ${POD}.foo -o json`,
      ]);
      expect(runner.lines().filter((l) => l.includes(' logs '))).to.have.length(2);
    });
  });

  it('a command that fails (RBAC, no istioctl) leaves its piece out, says so in the log, and never fails the run', async () => {
    const lines: string[] = [];
    const runner = new ScriptedRunner(
      cluster((argv) => {
        if (argv.includes('listener')) {
          return { exitCode: 1, stderr: `Error: failed to execute command on sidecar: pods "${POD}" is forbidden: User "vendor" cannot create resource "pods/portforward"` };
        }
        if (argv.includes('secret') && argv[0] === 'istioctl') return { stdout: '{"dynamicActiveSecrets":[]}' };
        if (argv.includes('logs')) return { exitCode: 1, stderr: 'Error from server (Forbidden): pods "finance-7d9f-abcde" is forbidden: cannot get resource "pods/log"' };
        return undefined;
      }),
      () => localAgentStream(),
    );
    await withEnvironment(
      runner,
      'sidecar',
      async (env) => {
        const got = await env.evidence!([failing]);
        expect(got.attachments.map((a) => a.id)).to.deep.equal([`${FINANCE_ID}-secret`]);
        expect(got.cells.get(failing.key)).to.deep.equal({ attachments: [`${FINANCE_ID}-secret`] });
      },
      (l) => void lines.push(l),
    );
    expect(lines.filter((l) => l.includes('evidence left out'))).to.deep.equal([
      `meshconform: scenario late-apply: evidence left out: kubectl --context kind-meshconform-abc123 -n foo logs ${POD} -c istio-proxy --since-time=2026-01-01T10:00:04Z failed: Error from server (Forbidden): pods "finance-7d9f-abcde" is forbidden: cannot get resource "pods/log"`,
      `meshconform: scenario late-apply: evidence left out: istioctl --context kind-meshconform-abc123 proxy-config listener ${POD}.foo --port 15006 -o json failed: Error: failed to execute command on sidecar: pods "${POD}" is forbidden: User "vendor" cannot create resource "pods/portforward"`,
    ]);
  });

  it('a busy window keeps its last 16 KiB of lines (the first one cut at its start), marked truncated', async () => {
    const busy = Array.from({ length: 400 }, (_, i) => `[2026-01-01T10:00:04.${String(i).padStart(3, '0')}Z] "- - -" 0 - - - "-" line ${i} ${'x'.repeat(60)}`);
    const runner = new ScriptedRunner(
      cluster((argv) =>
        argv.includes('logs') ? { stdout: busy.join('\n') } : argv[0] === 'istioctl' && argv.includes('proxy-config') ? { exitCode: 1, stderr: 'no' } : undefined,
      ),
      () => localAgentStream(),
    );
    await withEnvironment(runner, 'sidecar', async (env) => {
      const logs = (await env.evidence!([failing])).cells.get(failing.key)!.logs!;
      expect(logs.truncated).to.equal(true);
      const text = logs.lines.map((l) => l.text).join('\n');
      expect(Buffer.byteLength(text)).to.be.at.most(16 * 1024);
      expect(logs.lines.at(-1)!.text).to.equal(busy.at(-1));
      expect(busy.at(-logs.lines.length)!.endsWith(logs.lines[0]!.text)).to.equal(true);
      expect(logs.lines.slice(1).map((l) => l.text)).to.deep.equal(busy.slice(busy.length - logs.lines.length + 1));
    });
  });

  it("ambient: the node's ztunnel log lines about the pod, its workloads (the scenario's namespaces) and policies", async () => {
    const ztLog = [
      `2026-01-01T10:00:04.500000Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.0.9:40000 dst.addr=${POD_IP}:9090 dst.workload="${POD}" error="connection closed due to policy rejection"`,
      '2026-01-01T10:00:04.600000Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.0.9:40001 dst.addr=10.244.0.70:8080',
      '2026-01-01T10:00:08.700000Z\twarn\txds\tXDS client connection error: gRPC connection error',
    ].join('\n');
    const workloads = [
      { uid: 'Kubernetes//Pod/foo/finance-7d9f-abcde', name: POD, namespace: 'foo', workloadIps: [POD_IP], protocol: 'HBONE', node: 'kind-worker' },
      { uid: 'Kubernetes//Pod/kube-system/coredns-1', name: 'coredns-1', namespace: 'kube-system', workloadIps: ['10.244.0.2'], protocol: 'TCP', node: 'kind-worker' },
    ];
    const runner = new ScriptedRunner(
      cluster((argv) => {
        if (argv.includes('jsonpath={.spec.nodeName}')) return { stdout: 'kind-worker' };
        if (argv.includes('app=ztunnel')) return { stdout: 'ztunnel-x7k2p' };
        if (argv.includes('logs')) return { stdout: ztLog };
        if (argv.includes('ztunnel-config') && argv.includes('workloads')) return { stdout: JSON.stringify(workloads) };
        if (argv.includes('ztunnel-config') && argv.includes('policies')) return { exitCode: 1, stderr: 'Error: no ztunnel pod' };
        return undefined;
      }),
      () => localAgentStream(),
    );
    await withEnvironment(runner, 'ambient', async (env) => {
      const got = await env.evidence!([
        { ...failing, key: failing.key.replace('sidecar', 'ambient') },
        { ...flaky, key: flaky.key.replace('sidecar', 'ambient') },
      ]);
      expect(got.attachments.map((a) => a.id)).to.deep.equal([`${ZTUNNEL_ID}-workloads`]);
      expect(JSON.parse(got.attachments[0]!.text)).to.deep.equal([workloads[0]]);
      expect(got.attachments[0]!.label).to.match(/^ztunnel ztunnel-x7k2p on node kind-worker: /);
      const cell = got.cells.get(failing.key.replace('sidecar', 'ambient'))!;
      expect(cell.attachments).to.deep.equal([`${ZTUNNEL_ID}-workloads`]);
      expect(cell.config).to.equal(undefined);
      // 10.244.0.70 is another pod: only the line about this one.
      expect(cell.logs!.lines.map((l) => l.text)).to.deep.equal([ztLog.split('\n')[0]]);
      expect(cell.logs!.source).to.equal(
        `kubectl --context kind-meshconform-abc123 -n istio-system logs ztunnel-x7k2p --since-time=2026-01-01T10:00:04Z (lines that mention ${POD} or ${POD_IP})`,
      );
      // No line of the later window mentions the pod: every line of it, said so.
      const other = got.cells.get(flaky.key.replace('sidecar', 'ambient'))!;
      expect(other.logs!.lines.map((l) => l.text)).to.deep.equal([ztLog.split('\n')[2]]);
      expect(other.logs!.source).to.match(/\(every line of the window: none mentions finance-7d9f-abcde or 10\.244\.0\.7\)$/);
    });
    expect(runner.lines().filter((l) => /jsonpath|ztunnel-config|logs/.test(l))).to.deep.equal([
      `$ kubectl --context kind-meshconform-abc123 -n foo get pod ${POD} -o 'jsonpath={.spec.nodeName}'`,
      "$ kubectl --context kind-meshconform-abc123 -n istio-system get pods -l app=ztunnel --field-selector spec.nodeName=kind-worker -o 'jsonpath={.items[*].metadata.name}'",
      '$ kubectl --context kind-meshconform-abc123 -n istio-system logs ztunnel-x7k2p --since-time=2026-01-01T10:00:04Z',
      '$ istioctl --context kind-meshconform-abc123 ztunnel-config workloads ztunnel-x7k2p.istio-system -o json',
      '$ istioctl --context kind-meshconform-abc123 ztunnel-config policies ztunnel-x7k2p.istio-system -o json',
    ]);
  });

  it('--dry-run: the plan shows the evidence commands once per scenario; evidence() executes nothing', async () => {
    for (const mode of ['sidecar', 'ambient'] as const) {
      const out = new Sink();
      const lines: string[] = [];
      await withEnvironment(
        createDryRunRunner(out),
        mode,
        async (env) => {
          const got = await env.evidence!([failing]);
          expect(got.cells.size + got.attachments.length).to.equal(0);
        },
        (l) => void lines.push(l),
      );
      const plan = lines.filter((l) => l.startsWith('meshconform:   '));
      expect(lines).to.include(
        "meshconform: scenario late-apply: on a failing, flaky or error cell, its proxy's side is read once per pod before the namespaces go (WINDOW_START: where the earliest such cell's probe window starts; a command that fails leaves its piece out):",
      );
      expect(plan.map((l) => l.replace(/^meshconform: {3}/, ''))).to.deep.equal(
        mode === 'sidecar'
          ? [
              'kubectl --context kind-meshconform-abc123 -n NS logs POD -c istio-proxy --since-time=WINDOW_START',
              'istioctl --context kind-meshconform-abc123 proxy-config listener POD.NS --port 15006 -o json',
              'istioctl --context kind-meshconform-abc123 proxy-config secret POD.NS -o json',
            ]
          : [
              "kubectl --context kind-meshconform-abc123 -n NS get pod POD -o 'jsonpath={.spec.nodeName}'",
              "kubectl --context kind-meshconform-abc123 -n istio-system get pods -l app=ztunnel --field-selector spec.nodeName=NODE -o 'jsonpath={.items[*].metadata.name}'",
              'kubectl --context kind-meshconform-abc123 -n istio-system logs ZTUNNEL --since-time=WINDOW_START',
              'istioctl --context kind-meshconform-abc123 ztunnel-config workloads ZTUNNEL.istio-system -o json',
              'istioctl --context kind-meshconform-abc123 ztunnel-config policies ZTUNNEL.istio-system -o json',
            ],
      );
      expect(out.text).to.not.match(/proxy-config|ztunnel-config| logs /);
    }
  });
});
