import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type {
  AdmissionLayer,
  ApplyResult,
  BackendSession,
  CleanupScope,
  Environment,
  EnvironmentEvidence,
  EvidenceRequest,
  MeshMode,
  MtlsMode,
  PeerAuthenticationManifest,
  Backend,
  Scenario,
  SessionOptions,
  SessionPki,
  WorkloadKey,
} from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { openAgentSession, type AgentMaterial, type AgentSession } from './agent-session.js';
import { ensureProbeAgent } from './agent-bundle.js';
import { issueFromUserCa, type UserCa } from './user-ca.js';
import { commandLine, type Command, type CommandResult, type CommandRunner } from './command-runner.js';
import { evidencePlan, evidenceReader } from './evidence.js';
import { FIELD_MANAGER, KIND_CLUSTER_PREFIX, RUN_LABEL, WORKLOAD_LABEL, ownerAnnotations, runSuffix } from './labels.js';
import {
  OUTPUT_CERTS_DIR,
  POD_HARNESS_DIR,
  POD_HARNESS_FILES,
  PROBE_AGENT,
  hasPolicyTies,
  namespaceManifest,
  policyGroups,
  probeAgentManifests,
  scenarioManifests,
  servicePlan,
  toYaml,
  type HarnessFile,
  type Manifest,
  type ManifestContext,
} from './manifests.js';

/** Istio's plug-in CA files (`cacerts` secret layout), written 0600 by the run's PKI into a private folder. */
export interface PluginCaFiles {
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly rootCertFile: string;
  readonly certChainFile: string;
}

export type IstioProfile = 'default' | 'ambient';

interface CommonOptions {
  readonly runner: CommandRunner;
  /** The host's harness/ folder: the files the pods run, and the kind cluster config. */
  readonly harnessDir: string;
  /** Deadline for the workloads' pods (and the probe pod) to become ready. */
  readonly podReadyTimeoutMs: number;
  /** Where its clean-ups go: run on close, on a failed open, and by the run's interrupt drain (src/run/lifecycle.ts, injected: a stage cannot import run/). */
  readonly scope: CleanupScope;
  /** Progress lines for a person (setup takes minutes). */
  readonly log?: (line: string) => void;
  /** Waits between policy groups (injected so tests do not sleep). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface KindBackendOptions extends CommonOptions {
  readonly backend: 'kind';
  /** Reuse this existing kind cluster instead of creating one (it is never deleted). */
  readonly kindCluster?: string;
  /** Leave a cluster the run created in place for debugging. */
  readonly keep: boolean;
  readonly istioProfile: IstioProfile;
  /** Checked against `istioctl version` before anything is created. */
  readonly istioVersion?: string;
  /** Overrides the kind node image pinned for the Istio version (KIND_NODE_IMAGES). */
  readonly kindNodeImage?: string;
  /** Builds (or finds) the local image with node and the harness; loaded into the cluster with `kind load docker-image`. */
  readonly buildImage: () => Promise<string>;
  /** Timeout of `istioctl install`. */
  readonly installTimeoutMs: number;
}

export interface ClusterBackendOptions extends CommonOptions {
  readonly backend: 'cluster';
  /** kubeconfig context of a cluster with a mesh already installed. */
  readonly context: string;
  /** Image with node ≥ 20.18 the cluster can pull (the harness files arrive in a ConfigMap). */
  readonly image: string;
  /** Namespace label that enrols a namespace in the sidecar mesh, e.g. `istio-injection=enabled` or `istio.io/rev=stable`. */
  readonly injectionLabel: readonly [string, string];
  /** The mesh's root namespace (mesh-wide policies live there). */
  readonly rootNamespace: string;
  /** Allow scenarios that apply mesh-wide policies (root namespace): they change the whole mesh while they run. */
  readonly allowMeshPolicies: boolean;
  /** The probe identity: certificates issued from a CA the user gave (`--mesh-ca`), or absent: the probe pod's own sidecar's (OUTPUT_CERTS). */
  readonly userCa?: UserCa;
  /** The mesh modes the cluster's mesh serves. */
  readonly meshModes: readonly MeshMode[];
}

export type KubeBackendOptions = KindBackendOptions | ClusterBackendOptions;

export interface OpenOptions {
  readonly runId: string;
  readonly trustDomain: string;
  /** Writes the plug-in CA (kind: installed as the `cacerts` secret before Istio). */
  readonly writeCaFiles?: (dir: PrivateDir) => Promise<PluginCaFiles>;
  readonly appTls: { readonly certPem: string; readonly keyPem: string };
  readonly agent: { readonly material: AgentMaterial; readonly timeoutMs: number; readonly concurrency: number };
}

/** A cluster ready for scenarios: Istio installed (kind) or found (cluster), the probe agent running. */
export interface KubeRun {
  readonly context: string;
  /** Absent in a dry run (nothing is probed). */
  readonly agent?: AgentSession;
  /** Why a scenario cannot run on this mesh, known only once the mesh's version is (same-second ties); undefined when it can. */
  unsupportedHere(s: Scenario, meshMode: MeshMode): string | undefined;
  /** Waits until Istio's validating webhook fails closed (failurePolicy: Fail) before an admission scenario. */
  awaitAdmissionReady(): Promise<void>;
  deploy(s: Scenario, meshMode: MeshMode): Promise<KubeScenario>;
  close(): Promise<void>;
}

export type { AdmissionLayer, ApplyResult } from '../../model/index.js';

export interface KubeScenario {
  /** Pod IP of every workload; probes go to the workload (container) ports. */
  readonly targets: ReadonlyMap<WorkloadKey, { readonly address: string }>;
  /** Workload ports left out of their Service (spec R4.5), for the record. */
  readonly portsWithoutService: readonly string[];
  applyPolicies(policies: readonly PeerAuthenticationManifest[]): Promise<ApplyResult>;
  /**
   * Whether the mesh's own view of a workload's proxy shows the new configuration: the sidecar's inbound listener
   * (`istioctl proxy-config listener <pod> --port 15006 -o json`) has, per port, the filter chains of the port's mode;
   * in ambient, ztunnel's policies (`istioctl ztunnel-config policies -o json`) hold the scenario's converted policies.
   */
  configEvidence?(workload: WorkloadKey, modes: ReadonlyMap<number, MtlsMode>): Promise<boolean>;
  /**
   * The proxy's side of failing, flaky and error cells, read before `remove`: the sidecar's log and `istioctl
   * proxy-config listener|secret`, or in ambient the log of the node's ztunnel and `istioctl ztunnel-config`.
   */
  evidence?(requests: readonly EvidenceRequest[]): Promise<EnvironmentEvidence>;
  remove(): Promise<void>;
}

/** The kind and cluster backends: cells settle by convergence, one scenario at a time (policies are cluster-wide). */
export interface KubeBackend extends Backend {
  readonly name: 'kind' | 'cluster';
  readonly dryRun: boolean;
  /** Recorded in the report (environment.details). */
  details(): Record<string, string>;
  unsupported(s: Scenario, meshMode: MeshMode): string | undefined;
  meshTrustDomain(): Promise<string | undefined>;
  open(o: SessionOptions): Promise<BackendSession>;
}

const ISTIO_NAMESPACE = 'istio-system';
const CA_FILE_NAMES: Record<keyof PluginCaFiles, string> = { caCertFile: 'ca-cert.pem', caKeyFile: 'ca-key.pem', rootCertFile: 'root-cert.pem', certChainFile: 'cert-chain.pem' };
const DEFAULT_ROOT_NAMESPACE = 'istio-system';
/**
 * A webhook's refusal as kubectl prints it: the API server wraps the webhook's message as `admission webhook %q denied
 * the request: %s` (k8s.io/apiserver pkg/admission/plugin/webhook/errors ToStatusErr, code 400 when the webhook set
 * none) and istiod's message is `configuration is invalid: …` (istio pkg/webhooks/validation/server/server.go).
 */
const WEBHOOK_DENIED = /admission webhook "[^"]*" denied the request/;
/**
 * The API server's own refusal before any webhook runs: the CRD's x-kubernetes-validations (Istio 1.23+, e.g.
 * "portLevelMtls requires selector") give 422 Invalid with the message `%s %q is invalid: %v` (k8s.io/apimachinery
 * pkg/api/errors NewInvalid), printed by kubectl as `Error from server (Invalid): …`.
 */
const CRD_INVALID = /PeerAuthentication\.security\.istio\.io "[^"]*" is invalid: /;
/** How long to wait for istiod to switch its validating webhook to failurePolicy: Fail. */
const ADMISSION_READY_TIMEOUT_MS = 120_000;

/** What the steps after the open share. */
interface KubeDeps {
  readonly o: KubeBackendOptions;
  readonly k: Kube;
  readonly state: KubeState;
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
}

/** What the backend learns while it opens: the context, the mesh's version, the kind node image. */
interface KubeState {
  context: string;
  /** The mesh's Istio version once known (istioctl on kind; istiod's image tag on a cluster). */
  istioVersion: string | undefined;
  nodeImage: string | undefined;
}

/** The kind and cluster backends: Istio (or a vendor's mesh) on Kubernetes, every command through the injected runner. */
export function createKubeBackend(o: KubeBackendOptions): KubeBackend {
  const runner = o.runner;
  const log = o.log ?? (() => {});
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const meshModes: readonly MeshMode[] = o.backend === 'kind' ? (o.istioProfile === 'ambient' ? ['sidecar', 'ambient'] : ['sidecar']) : o.meshModes;
  const rootNamespace = o.backend === 'kind' ? DEFAULT_ROOT_NAMESPACE : o.rootNamespace;
  const state: KubeState = {
    context: o.backend === 'cluster' ? o.context : kindContext(o.kindCluster ?? ''),
    istioVersion: o.backend === 'kind' ? o.istioVersion : undefined,
    nodeImage: undefined,
  };
  let trustDomainRead: Promise<string | undefined> | undefined;
  const k: Kube = { runner, log, context: () => state.context, own: o.scope.own, interrupted: () => o.scope.interrupted() };
  const d: KubeDeps = { o, k, state, runner, log, sleep };

  return {
    name: o.backend,
    settle: 'convergence',
    parallelScenarios: false,
    dryRun: runner.dryRun,
    details: () => detailsOf(o, state, rootNamespace),
    meshTrustDomain(): Promise<string | undefined> {
      if (o.backend === 'kind') return Promise.resolve(undefined);
      trustDomainRead ??= checkContext(k, o).then(() => readMeshTrustDomain(k, o.rootNamespace));
      return trustDomainRead;
    },
    unsupported: (s, m) => unsupportedOn(o, meshModes, rootNamespace, s, m),
    async open(so) {
      const run = openOptions(o, so);
      let opened: KubeRun;
      try {
        opened = await openCluster(run);
      } catch (err) {
        // The cause stays the error; a clean-up that also fails is added to it, never put in its place.
        await o.scope.close().catch((cleanup: Error) => {
          throw new BackendError(`${(err as Error).message}; and then the clean-up failed: ${cleanup.message}`, { cause: err });
        });
        throw err;
      }
      return sessionOf(opened, () => detailsOf(o, state, rootNamespace));
    },
  };

  async function openCluster(run: OpenOptions): Promise<KubeRun> {
    if (o.backend === 'kind') {
      const pf = await preflightKind(k, o);
      state.istioVersion = pf.istioVersion;
      state.nodeImage = pf.nodeImage;
      const name = o.kindCluster ?? `${KIND_CLUSTER_PREFIX}${runSuffix(run.runId)}`;
      state.context = kindContext(name);
      await kindCluster(k, o, name, state.nodeImage!);
      const image = runner.dryRun ? '<meshconform/node-harness image, built locally>' : await o.buildImage();
      log(`meshconform: loading image ${image} into kind cluster ${name}`);
      await must(
        k,
        { argv: ['kind', 'load', 'docker-image', image, '--name', name], timeoutMs: 600_000 },
        (r) =>
          `cannot load the image ${image} into kind cluster ${name}: ${tail(r)}. What to do: check that Docker is running and the image exists (docker images meshconform/node-harness)`,
      );
      const ctx = await manifestContext(o, run, image, 'Never', ['istio-injection', 'enabled']);
      await installIstio(k, o, run, ctx);
      return await openRun(d, run, ctx, 'outside', rootNamespace);
    }
    state.istioVersion = await preflightCluster(k, o);
    const ctx = await manifestContext(o, run, o.image, 'IfNotPresent', o.injectionLabel);
    return await openRun(d, run, ctx, o.userCa ? 'outside' : 'sidecar-certs', rootNamespace);
  }
}

/** The probe agent in its own namespace, and the run's view of the cluster. */
async function openRun(d: KubeDeps, run: OpenOptions, ctx: ManifestContext, identity: 'outside' | 'sidecar-certs', root: string): Promise<KubeRun> {
  const { k, o, runner, log, state } = d;
  const probeNs = `meshconform-probe-${runSuffix(run.runId)}`;
  // Checked before its clean-up is registered: a namespace someone else owns is never deleted.
  await refuseForeignNamespaces(k, run.runId, [probeNs]);
  k.own(`probe namespace ${probeNs}`, () => deleteNamespaces(k, [probeNs]));
  await apply(k, probeAgentManifests(ctx, { namespace: probeNs, identity }), (r) => `cannot create the probe agent in namespace ${probeNs}: ${tail(r)}`);
  await waitAvailable(k, probeNs, `deployment/${PROBE_AGENT}`, o.podReadyTimeoutMs, 'the probe agent');
  const exec: Command = {
    argv: [
      'kubectl',
      '--context',
      k.context(),
      '-n',
      probeNs,
      'exec',
      '-i',
      `deployment/${PROBE_AGENT}`,
      '-c',
      'agent',
      '--',
      'node',
      `${POD_HARNESS_DIR}/probe-agent/probe-agent.mjs`,
    ],
  };
  const hello = {
    timeoutMs: run.agent.timeoutMs,
    concurrency: run.agent.concurrency,
    material: run.agent.material,
    ...(identity === 'sidecar-certs' ? { istioOutputCerts: OUTPUT_CERTS_DIR, waitForCertsMs: 60_000 } : {}),
  };
  let agent: AgentSession | undefined;
  if (runner.dryRun) {
    runner.stream({
      ...exec,
      show: `${JSON.stringify({ type: 'hello', protocol: 1, ...hello, material: redactMaterial(hello.material) })}\n<one {"type":"batch"} line per probe round>`,
    });
  } else {
    log(`meshconform: probe agent session: ${commandLine(exec.argv)}`);
    agent = await openAgentSession(runner.stream(exec), hello, `probe agent in ${probeNs}`);
  }
  k.own('probe agent session', async () => void (await agent?.close().catch(() => undefined)));
  return {
    context: k.context(),
    ...(agent ? { agent } : {}),
    unsupportedHere: (s, m) => tieSkip(s, m, state.istioVersion),
    awaitAdmissionReady: () => awaitAdmissionReady(k),
    deploy: (s, m) => deployScenario(d, run, ctx, s, m, root),
    close: () => o.scope.close(),
  };
}

/** One scenario's namespaces, workloads and Services, ready; its policies are applied later (`applyPolicies`). */
async function deployScenario(d: KubeDeps, run: OpenOptions, ctx: ManifestContext, s: Scenario, m: MeshMode, root: string): Promise<KubeScenario> {
  const { k, o, log } = d;
  const where = `scenario ${s.name}`;
  const namespaces = [...new Set(s.workloads.map((w) => w.namespace))];
  const policyNamespaces = [...new Set(s.policies.map((p) => p.namespace))];
  // Policies in namespaces without workloads (the root namespace aside) still need their namespace.
  const extra = policyNamespaces.filter((ns) => ns !== root && !namespaces.includes(ns));
  // Checked before its clean-up is registered: a namespace someone else owns is never deleted.
  await refuseForeignNamespaces(k, run.runId, [...namespaces, ...extra]);
  const remove = k.own(`namespaces of ${where}`, async () => {
    await must(
      k,
      {
        argv: ['kubectl', '--context', k.context(), 'delete', 'peerauthentications.security.istio.io', '--all-namespaces', '-l', `${RUN_LABEL}=${run.runId}`, '--ignore-not-found'],
      },
      (r) => `cannot remove the policies of ${where}: ${tail(r)}`,
    );
    await deleteNamespaces(k, [...namespaces, ...extra]);
  });
  try {
    log(`meshconform: ${where}: deploying ${s.workloads.length} workload(s) in ${namespaces.join(', ')}`);
    const manifests: Manifest[] = [...scenarioManifests(ctx, s, m), ...extra.map((ns) => namespaceManifest(ctx, ns, m))];
    await apply(k, manifests, (r) => `${where}: cannot create its workloads: ${tail(r)}`);
    for (const ns of namespaces) await waitAvailable(k, ns, 'deployment', o.podReadyTimeoutMs, `the workloads of ${where}`, `${RUN_LABEL}=${run.runId}`);
    const { targets, podNames } = await podTargets(k, run, s, namespaces, where);
    const pods = new Map([...podNames].map(([wk, name]) => [wk, { name, ip: targets.get(wk)!.address }] as const));
    const source = { runner: k.runner, context: k.context(), meshMode: m, scenario: s.name, istioNamespace: root, pods, log };
    // No cell fails in a plan: it shows once what a failing one would read.
    if (k.runner.dryRun) {
      log(
        `meshconform: ${where}: on a failing, flaky or error cell, its proxy's side is read once per pod before the namespaces go (WINDOW_START: where the earliest such cell's probe window starts; a command that fails leaves its piece out):`,
      );
      for (const line of evidencePlan(source.context, m, root)) log(`meshconform:   ${line}`);
    }
    const without = [...servicePlan(s)].flatMap(([wk, ports]) => ports.filter((p) => p.servicePort === undefined).map((p) => `${wk}:${p.port}`));
    return {
      targets,
      portsWithoutService: without,
      applyPolicies: (policies) => applyPolicyGroups(d, run, m, policies, where),
      configEvidence: (workload, modes) =>
        configEvidence(
          k,
          m,
          workload,
          podNames.get(workload),
          modes,
          s.policies.map((p) => p.manifest),
        ),
      evidence: evidenceReader(source),
      remove,
    };
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
}

/** The pod IP (the probes' target) and pod name of every workload of a deployed scenario. */
async function podTargets(k: Kube, run: OpenOptions, s: Scenario, namespaces: readonly string[], where: string) {
  const targets = new Map<WorkloadKey, { address: string }>();
  const podNames = new Map<WorkloadKey, string>();
  for (const ns of namespaces) {
    const inNs = s.workloads.filter((w) => w.namespace === ns);
    const r = await must(
      k,
      {
        argv: ['kubectl', '--context', k.context(), '-n', ns, 'get', 'pods', '-l', `${RUN_LABEL}=${run.runId}`, '-o', 'json'],
        dryRunStdout: JSON.stringify({
          items: inNs.map((w) => ({
            metadata: { name: `POD(${ns}/${w.name})`, labels: { [WORKLOAD_LABEL]: w.name } },
            status: { phase: 'Running', podIP: `POD_IP(${ns}/${w.name})` },
          })),
        }),
      },
      (res) => `${where}: cannot list its pods in ${ns}: ${tail(res)}`,
    );
    const pods = parseJson<{
      items?: { metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: string }; status?: { phase?: string; podIP?: string } }[];
    }>(r.stdout, 'kubectl get pods');
    for (const w of inNs) {
      const pod = (pods.items ?? []).find(
        (p) => p.metadata?.labels?.[WORKLOAD_LABEL] === w.name && p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.status?.podIP,
      );
      if (!pod)
        throw new BackendError(
          `${where}: no running pod with an IP for workload ${ns}/${w.name}. What to do: kubectl --context ${k.context()} -n ${ns} describe pods -l ${WORKLOAD_LABEL}=${w.name}`,
        );
      targets.set(`${ns}/${w.name}`, { address: pod.status!.podIP! });
      if (pod.metadata?.name) podNames.set(`${ns}/${w.name}`, pod.metadata.name);
    }
  }
  return { targets, podNames };
}

/**
 * Applies a policy set in creation-time groups (oldest first); a refusal by the mesh's admission is a result, any
 * other failure an error.
 */
async function applyPolicyGroups(d: KubeDeps, run: OpenOptions, m: MeshMode, policies: readonly PeerAuthenticationManifest[], where: string): Promise<ApplyResult> {
  const { k, runner, sleep } = d;
  const groups = policyGroups(run.runId, policies, { splitTies: m === 'ambient' && hasPolicyTies(policies) });
  for (let i = 0; i < groups.length; i++) {
    // Kubernetes stamps creation times in whole seconds: a later group must land in a later second.
    if (i > 0) await sleep(1100);
    if (k.interrupted()) throw new BackendError('the run is being cleaned up: nothing more is applied');
    const r = await runner.run(applyCommand(k, groups[i]!));
    if (r.exitCode !== 0) {
      const message = tail(r, 4);
      const layer = admissionLayer(r.stderr);
      if (layer) return { kind: 'rejected', layer, message };
      throw new BackendError(`${where}: kubectl apply of its policies failed: ${message}`);
    }
  }
  return { kind: 'applied' };
}

/** What every step needs: the runner, the context (known once the kind cluster exists), a log. */
interface Kube {
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
  context(): string;
  /** Registers a clean-up (see createKubeBackend's `own`). */
  own(label: string, fn: () => Promise<void>): () => Promise<void>;
  /** True once the run is being torn down from outside (a signal). */
  interrupted(): boolean;
}

const kindContext = (name: string) => `kind-${name}`;

async function must(k: Kube, cmd: Command, message: (r: CommandResult) => string): Promise<CommandResult> {
  const r = await k.runner.run(cmd);
  if (r.exitCode !== 0) throw new BackendError(r.notFound ? notFound(cmd.argv[0]) : message(r));
  return r;
}

function notFound(tool: string): string {
  const how: Record<string, string> = {
    kind: 'install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or use --backend cluster --context <ctx> with an existing cluster',
    kubectl: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)',
    istioctl: 'install istioctl (https://istio.io/latest/docs/setup/additional-setup/download-istio-release/) and put it on PATH',
  };
  return `${tool} is not on PATH: the ${tool === 'kind' || tool === 'istioctl' ? 'kind' : 'kind and cluster'} backend runs it. What to do: ${how[tool] ?? `install ${tool}`}`;
}

/** The last lines of a failed command's output, on one line. */
function tail(r: CommandResult, n = 6): string {
  const text = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.exitCode}`).split('\n').slice(-n).join(' | ');
  return r.timedOut ? `timed out: ${text}` : text;
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new BackendError(`${what} printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

function applyCommand(k: Kube, manifests: readonly Manifest[]): Command {
  return {
    argv: ['kubectl', '--context', k.context(), 'apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
    input: toYaml(manifests),
    show: toYaml(manifests, { forPlan: true }),
  };
}

async function apply(k: Kube, manifests: readonly Manifest[], message: (r: CommandResult) => string): Promise<void> {
  if (k.interrupted()) throw new BackendError('the run is being cleaned up: nothing more is created');
  await must(k, applyCommand(k, manifests), message);
}

async function waitAvailable(k: Kube, ns: string, what: string, timeoutMs: number, whose: string, selector?: string): Promise<void> {
  const r = await k.runner.run({
    argv: [
      'kubectl',
      '--context',
      k.context(),
      '-n',
      ns,
      'wait',
      '--for=condition=Available',
      what,
      ...(selector ? ['-l', selector] : []),
      `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
    ],
    timeoutMs: timeoutMs + 30_000,
  });
  if (r.exitCode === 0) return;
  const pods = await k.runner.run({ argv: ['kubectl', '--context', k.context(), '-n', ns, 'get', 'pods', '-o', 'wide', '--no-headers'] });
  const state =
    pods.exitCode === 0 && pods.stdout.trim()
      ? pods.stdout
          .trim()
          .split('\n')
          .slice(0, 10)
          .map((l) => l.replace(/\s+/g, ' '))
          .join(' | ')
      : tail(r);
  throw new BackendError(
    `the pods of ${whose} in namespace ${ns} did not become ready within ${Math.round(timeoutMs / 1000)} s: ${state}. What to do: kubectl --context ${k.context()} -n ${ns} describe pods (an image the cluster cannot pull, a sidecar injector that fails, too little CPU or memory); raise --pod-ready-timeout for a slow cluster`,
  );
}

/** Namespaces a scenario needs must not exist unless this run created them: the harness never touches others'. */
async function refuseForeignNamespaces(k: Kube, runId: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const r = await must(
    k,
    { argv: ['kubectl', '--context', k.context(), 'get', 'namespaces', ...names, '--ignore-not-found', '-o', 'json'], dryRunStdout: '{"items":[]}' },
    (res) => `cannot read namespaces ${names.join(', ')}: ${tail(res)}`,
  );
  // One object (not a List) when exactly one name was asked for and found.
  const parsed = r.stdout.trim() === '' ? { items: [] } : parseJson<{ kind?: string; items?: unknown[]; metadata?: unknown }>(r.stdout, 'kubectl get namespaces');
  const items = (parsed.kind === 'Namespace' ? [parsed] : (parsed.items ?? [])) as { metadata?: { name?: string; labels?: Record<string, string> } }[];
  const foreign = items.filter((n) => n.metadata?.labels?.[RUN_LABEL] !== runId).map((n) => n.metadata?.name ?? '?');
  if (foreign.length > 0) {
    throw new BackendError(
      `namespace ${foreign.join(', ')} already exists in context ${k.context()} and was not created by this run: meshconform only uses namespaces it creates and deletes. What to do: delete it, or run \`meshconform reap --context ${k.context()}\` if an earlier run left it`,
    );
  }
}

async function deleteNamespaces(k: Kube, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await must(
    k,
    { argv: ['kubectl', '--context', k.context(), 'delete', 'namespace', ...names, '--ignore-not-found', '--wait=true', '--timeout=300s'], timeoutMs: 330_000 },
    (r) => `cannot delete namespace ${names.join(', ')}: ${tail(r)}; run \`meshconform reap --context ${k.context()}\` later`,
  );
}

async function preflightKind(k: Kube, o: KindBackendOptions): Promise<{ istioVersion: string; nodeImage: string }> {
  await must(k, { argv: ['kind', 'version'], dryRunStdout: 'kind v0.x' }, (r) => `kind does not run: ${tail(r)}`);
  await must(k, { argv: ['kubectl', 'version', '--client', '-o', 'json'], dryRunStdout: '{}' }, (r) => `kubectl does not run: ${tail(r)}`);
  const v = await must(
    k,
    // A dry run plans for --istio-version, else for the newest Istio the pin table knows.
    { argv: ['istioctl', 'version', '--remote=false', '-o', 'json'], dryRunStdout: JSON.stringify({ clientVersion: { version: o.istioVersion ?? KIND_NODE_IMAGES[0]!.istio } }) },
    (r) => `istioctl does not run: ${tail(r)}`,
  );
  const version = istioctlVersion(v.stdout);
  if (o.istioVersion !== undefined && !versionMatches(version, o.istioVersion)) {
    throw new BackendError(
      `istioctl on PATH is version ${version ?? '(unknown)'}, but --istio-version asks for ${o.istioVersion}. What to do: put istioctl ${o.istioVersion} first on PATH (https://istio.io/latest/docs/setup/additional-setup/download-istio-release/), or drop --istio-version to use ${version ?? 'the one on PATH'}`,
    );
  }
  if (version) k.log(`meshconform: istioctl ${version}`);
  const pin = version ? kindNodeImageFor(version) : undefined;
  const nodeImage = o.kindNodeImage ?? pin?.image;
  if (!nodeImage) {
    throw new BackendError(
      `istioctl ${version ?? '(unknown version)'}: meshconform pins a kind node image per Istio release and knows ${KIND_NODE_IMAGES.map((x) => x.istio).join(', ')} (istioctl only warns when Kubernetes is older than it supports). What to do: put a supported istioctl first on PATH, or pass --kind-node-image with a kindest/node image of a Kubernetes version this Istio supports`,
    );
  }
  k.log(
    o.kindNodeImage
      ? `meshconform: kind node image ${nodeImage} (--kind-node-image)`
      : `meshconform: kind node image ${nodeImage} (Kubernetes ${pin!.kubernetes}, pinned for Istio ${pin!.istio}, which supports Kubernetes ${pin!.supports}; built by kind ${pin!.kind})`,
  );
  return { istioVersion: version ?? '', nodeImage };
}

/**
 * The kind node image per Istio minor release: the newest Kubernetes the release supports (istio.io "Supported
 * Releases", data/compatibility/supportStatus.yml) with a kindest/node image from the kind release notes (digests as
 * tabulated in kubernetes-sigs/cluster-api test/infrastructure/kind/mapping.go). Newest first.
 */
export const KIND_NODE_IMAGES: readonly { readonly istio: string; readonly supports: string; readonly kubernetes: string; readonly kind: string; readonly image: string }[] = [
  {
    istio: '1.29',
    supports: '1.31 - 1.35',
    kubernetes: '1.34.0',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a',
  },
  {
    istio: '1.28',
    supports: '1.30 - 1.34',
    kubernetes: '1.34.0',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a',
  },
  {
    istio: '1.27',
    supports: '1.29 - 1.33',
    kubernetes: '1.33.4',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.33.4@sha256:25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2',
  },
  {
    istio: '1.26',
    supports: '1.29 - 1.33',
    kubernetes: '1.33.4',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.33.4@sha256:25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2',
  },
  {
    istio: '1.25',
    supports: '1.29 - 1.32',
    kubernetes: '1.32.8',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.32.8@sha256:abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1',
  },
  {
    istio: '1.24',
    supports: '1.28 - 1.31',
    kubernetes: '1.31.12',
    kind: 'v0.30.0',
    image: 'kindest/node:v1.31.12@sha256:0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2',
  },
  {
    istio: '1.23',
    supports: '1.27 - 1.30',
    kubernetes: '1.30.13',
    kind: 'v0.29.0',
    image: 'kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648',
  },
  {
    istio: '1.22',
    supports: '1.27 - 1.30',
    kubernetes: '1.30.13',
    kind: 'v0.29.0',
    image: 'kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648',
  },
];

export function kindNodeImageFor(istioVersion: string): (typeof KIND_NODE_IMAGES)[number] | undefined {
  return KIND_NODE_IMAGES.find((x) => versionMatches(istioVersion, x.istio));
}

/** `1.24.3` → [1, 24]; undefined when not a version. */
function minorOf(version: string | undefined): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Scenario label declaring the Istio versions a scenario holds for, e.g. `">=1.23"` or `"1.22"`. */
export const ISTIO_VERSIONS_LABEL = 'istio-versions';

/**
 * Same-second ties: the oracle orders them by name then namespace, as Istio 1.23 and later do; 1.22 compares
 * `name + "." + namespace`. A tie scenario holds for `>=1.23` unless it declares otherwise (ISTIO_VERSIONS_LABEL);
 * ambient is covered by applying tied policies in distinct seconds (policyGroups).
 */
export function tieSkip(s: Scenario, m: MeshMode, istioVersion: string | undefined): string | undefined {
  const declared = s.labels[ISTIO_VERSIONS_LABEL];
  if (declared === undefined && !hasPolicyTies(s.policies.map((p) => p.manifest))) return undefined;
  const want = declared ?? '>=1.23';
  const have = minorOf(istioVersion);
  if (!have) return undefined; // unknown version (a vendor's mesh): nothing to compare with; the log says so
  const w = /^(>=)?\s*v?(\d+)\.(\d+)$/.exec(want.trim());
  if (!w) return `label ${ISTIO_VERSIONS_LABEL}: "${want}" is not a version or ">=version"`;
  const wanted: [number, number] = [Number(w[2]), Number(w[3])];
  const cmp = have[0] - wanted[0] || have[1] - wanted[1];
  const holds = w[1] ? cmp >= 0 : cmp === 0;
  if (holds) return undefined;
  const why =
    declared === undefined
      ? 'its same-second ties are ordered by name then namespace (Istio 1.23 and later); Istio 1.22 orders them by name + "." + namespace'
      : `it declares ${ISTIO_VERSIONS_LABEL}: "${want}"`;
  return `the mesh runs Istio ${istioVersion} (${m}), and ${why}`;
}

function admissionLayer(stderr: string): AdmissionLayer | undefined {
  if (CRD_INVALID.test(stderr)) return 'crd-validation';
  if (WEBHOOK_DENIED.test(stderr)) return 'webhook';
  return undefined;
}

/**
 * istiod installs its validating webhooks with `failurePolicy: Ignore` ("Fail open until the validation webhook is
 * ready": manifests/charts/base/templates/validatingwebhookconfiguration.yaml) and patches them to Fail when ready; an
 * admission scenario run before then could be let through by a webhook that never ran.
 */
async function awaitAdmissionReady(k: Kube): Promise<void> {
  const deadline = Date.now() + ADMISSION_READY_TIMEOUT_MS;
  for (;;) {
    const r = await must(
      k,
      {
        argv: ['kubectl', '--context', k.context(), 'get', 'validatingwebhookconfigurations', '-l', 'app=istiod', '-o', 'json'],
        dryRunStdout: JSON.stringify({ items: [{ metadata: { name: 'istio-validator-istio-system' }, webhooks: [{ name: 'rev.validation.istio.io', failurePolicy: 'Fail' }] }] }),
      },
      (res) => `cannot read Istio's validating webhooks: ${tail(res)}`,
    );
    const items =
      parseJson<{ items?: { metadata?: { name?: string }; webhooks?: { name?: string; failurePolicy?: string }[] }[] }>(r.stdout, 'kubectl get validatingwebhookconfigurations')
        .items ?? [];
    const hooks = items.flatMap((c) => (c.webhooks ?? []).filter((w) => /validation\.istio\.io$/.test(w.name ?? '')).map((w) => ({ config: c.metadata?.name ?? '?', ...w })));
    const open = hooks.filter((h) => h.failurePolicy !== 'Fail');
    if (hooks.length > 0 && open.length === 0) return;
    if (k.runner.dryRun || Date.now() >= deadline) {
      throw new BackendError(
        hooks.length === 0
          ? `context ${k.context()} has no Istio validating webhook (ValidatingWebhookConfiguration labelled app=istiod): an admission scenario cannot tell a refusal from a webhook that never ran. What to do: install Istio with config validation, or leave out the admission scenarios`
          : `Istio's validating webhook ${open.map((h) => `${h.config}/${h.name}`).join(', ')} still has failurePolicy ${open[0]!.failurePolicy ?? 'unset'} after ${ADMISSION_READY_TIMEOUT_MS / 1000} s: istiod switches it to Fail once its webhook is ready. What to do: check istiod (kubectl --context ${k.context()} -n istio-system logs deploy/istiod)`,
      );
    }
    await new Promise<void>((res) => setTimeout(res, 2000));
  }
}

/** `meshConfig.trustDomain` from the `istio` ConfigMap of the Istio namespace (cluster.local when unset). */
async function readMeshTrustDomain(k: Kube, istioNamespace: string): Promise<string> {
  const r = await k.runner.run({
    argv: ['kubectl', '--context', k.context(), '-n', istioNamespace, 'get', 'configmap', 'istio', '-o', 'jsonpath={.data.mesh}'],
    dryRunStdout: 'trustDomain: cluster.local\n',
  });
  if (r.notFound) throw new BackendError(notFound('kubectl'));
  if (r.exitCode !== 0) {
    throw new BackendError(
      `cannot read the mesh configuration (ConfigMap istio in ${istioNamespace}) of context ${k.context()}: ${tail(r)}. What to do: pass the Istio namespace with --root-namespace, and check that the user may get configmaps there`,
    );
  }
  let mesh: unknown;
  try {
    mesh = parseYaml(r.stdout);
  } catch (err) {
    throw new BackendError(`ConfigMap istio in ${istioNamespace}: data.mesh is not YAML: ${(err as Error).message}`);
  }
  const td = (mesh as { trustDomain?: unknown } | null)?.trustDomain;
  return typeof td === 'string' && td !== '' ? td : 'cluster.local';
}

/** Transport protocols of the inbound listener's filter chains for one port: per-port chains, else the catch-all ones. */
function inboundTransports(listeners: unknown, port: number): Set<string> {
  const chains = (Array.isArray(listeners) ? listeners : [])
    .flatMap((l: { filterChains?: unknown[] }) => (Array.isArray(l?.filterChains) ? l.filterChains : []))
    .map((c) => ((c ?? {}) as { filterChainMatch?: { destinationPort?: number; transportProtocol?: string } }).filterChainMatch ?? {});
  const own = chains.filter((m) => m.destinationPort === port);
  const pick = own.length > 0 ? own : chains.filter((m) => m.destinationPort === undefined);
  return new Set(pick.map((m) => m.transportProtocol ?? 'any'));
}

/**
 * The mesh's own view of the new configuration (see KubeScenario.configEvidence). Sidecar: for every port, TLS-only
 * chains for STRICT, TLS and plaintext for PERMISSIVE, plaintext only for DISABLE. Ambient: ztunnel holds a policy
 * converted from one of the scenario's (Istio names them `converted_peer_authentication_<name>`, or
 * `istio_converted_static_strict`). Any failure is "no evidence", never an error: the run then waits for a flip.
 */
async function configEvidence(
  k: Kube,
  m: MeshMode,
  workload: WorkloadKey,
  pod: string | undefined,
  modes: ReadonlyMap<number, MtlsMode>,
  policies: readonly PeerAuthenticationManifest[],
): Promise<boolean> {
  if (k.runner.dryRun) return false;
  const [ns] = workload.split('/');
  if (m === 'ambient') {
    const r = await k.runner.run({ argv: ['istioctl', '--context', k.context(), 'ztunnel-config', 'policies', '-o', 'json'], timeoutMs: 30_000 });
    if (r.exitCode !== 0) return false;
    const names = new Set(policies.map((p) => `converted_peer_authentication_${p.metadata.name}`));
    try {
      const list = JSON.parse(r.stdout) as { name?: string; namespace?: string }[];
      return (
        Array.isArray(list) &&
        list.some(
          (x) =>
            (x.name !== undefined && names.has(x.name) && (x.namespace === undefined || x.namespace === ns || policies.some((p) => p.metadata.namespace === x.namespace))) ||
            x.name === 'istio_converted_static_strict',
        )
      );
    } catch {
      return false;
    }
  }
  if (!pod || modes.size === 0) return false;
  const r = await k.runner.run({ argv: ['istioctl', '--context', k.context(), 'proxy-config', 'listener', `${pod}.${ns}`, '--port', '15006', '-o', 'json'], timeoutMs: 30_000 });
  if (r.exitCode !== 0) return false;
  let listeners: unknown;
  try {
    listeners = JSON.parse(r.stdout);
  } catch {
    return false;
  }
  for (const [port, mode] of modes) {
    const t = inboundTransports(listeners, port);
    const tls = t.has('tls');
    const plain = t.has('raw_buffer');
    const ok = mode === 'STRICT' ? tls && !plain : mode === 'PERMISSIVE' ? tls && plain : mode === 'DISABLE' ? plain && !tls : false;
    if (!ok) return false;
  }
  return true;
}

/** `istioctl version --remote=false -o json` → clientVersion.version; older builds print the bare version. */
export function istioctlVersion(stdout: string): string | undefined {
  try {
    const v = (JSON.parse(stdout) as { clientVersion?: { version?: unknown } }).clientVersion?.version;
    if (typeof v === 'string' && v) return v;
  } catch {
    // not JSON: the plain form
  }
  return /(\d+\.\d+(?:\.\d+)?(?:[-+][\w.-]+)?)/.exec(stdout)?.[1];
}

/** `1.24` matches 1.24.x; `1.24.3` matches only itself. */
export function versionMatches(actual: string | undefined, wanted: string): boolean {
  if (!actual) return false;
  const a = actual.replace(/^v/, '');
  const w = wanted.replace(/^v/, '');
  return a === w || a.startsWith(`${w}.`) || a.startsWith(`${w}-`);
}

async function kindCluster(k: Kube, o: KindBackendOptions, name: string, nodeImage: string): Promise<void> {
  const list = await must(
    k,
    { argv: ['kind', 'get', 'clusters'], dryRunStdout: o.kindCluster ?? '' },
    (r) => `kind cannot list clusters: ${tail(r)}. What to do: check that Docker runs (kind needs it)`,
  );
  const existing = list.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (o.kindCluster !== undefined) {
    if (!existing.includes(name)) {
      throw new BackendError(
        `--kind-cluster ${name}: kind has no such cluster (it has: ${existing.join(', ') || 'none'}). What to do: leave out --kind-cluster to create one, or create it with kind create cluster --name ${name}`,
      );
    }
    k.log(`meshconform: reusing kind cluster ${name}`);
    return;
  }
  if (existing.includes(name)) throw new BackendError(`kind cluster ${name} already exists; run \`meshconform reap --kind\` or pick another run`);
  // Registered before the create: an interrupt while kind works still deletes what it made.
  if (!o.keep)
    k.own(
      `kind cluster ${name}`,
      async () => void (await must(k, { argv: ['kind', 'delete', 'cluster', '--name', name], timeoutMs: 300_000 }, (r) => `cannot delete kind cluster ${name}: ${tail(r)}`)),
    );
  k.log(`meshconform: creating kind cluster ${name} (a minute or two)`);
  await must(
    k,
    { argv: ['kind', 'create', 'cluster', '--name', name, '--image', nodeImage, '--config', join(o.harnessDir, 'kind/cluster.yaml'), '--wait', '5m'], timeoutMs: 900_000 },
    (r) => `kind cannot create cluster ${name}: ${tail(r)}. What to do: check that Docker runs and has room (kind needs about 2 CPUs and 4 GB for Istio)`,
  );
  if (o.keep) k.log(`meshconform: --keep: kind cluster ${name} stays after the run (delete it with: kind delete cluster --name ${name})`);
}

async function installIstio(k: Kube, o: KindBackendOptions, run: OpenOptions, ctx: ManifestContext): Promise<void> {
  const existing = await must(
    k,
    { argv: ['kubectl', '--context', k.context(), '-n', ISTIO_NAMESPACE, 'get', 'deployment', 'istiod', '--ignore-not-found', '-o', 'name'], dryRunStdout: '' },
    (r) => `cannot reach kind cluster (context ${k.context()}): ${tail(r)}`,
  );
  if (existing.stdout.trim() !== '') {
    throw new BackendError(
      `context ${k.context()} already has Istio (deployment istiod in ${ISTIO_NAMESPACE}), installed without this run's CA. What to do: test it as it is with --backend cluster --context ${k.context()}, or use a fresh kind cluster (leave out --kind-cluster)`,
    );
  }
  // The Istio namespace carries the run label: deleting it (reused cluster) removes the install's namespaced part.
  if (o.kindCluster !== undefined) {
    k.own('Istio of the run', async () => {
      await k.runner.run({ argv: ['istioctl', '--context', k.context(), 'uninstall', '--purge', '-y'], timeoutMs: 300_000 });
      await deleteNamespaces(k, [ISTIO_NAMESPACE]);
    });
  }
  await apply(k, [namespaceManifest(ctx, ISTIO_NAMESPACE, 'none')], (r) => `cannot create namespace ${ISTIO_NAMESPACE}: ${tail(r)}`);
  if (!run.writeCaFiles) throw new BackendError("the kind backend needs the run's CA to install as Istio's plug-in CA");
  // The CA key reaches kubectl as a 0600 file in a private folder, removed as soon as the secret exists.
  const dir = k.runner.dryRun ? undefined : await createPrivateDir('meshconform-cacerts-');
  try {
    const files = dir
      ? await run.writeCaFiles(dir)
      : (Object.fromEntries(Object.entries(CA_FILE_NAMES).map(([k2, name]) => [k2, `${tmpdir()}/meshconform-cacerts-XXXXXX/${name}`])) as unknown as PluginCaFiles);
    await must(
      k,
      {
        argv: [
          'kubectl',
          '--context',
          k.context(),
          '-n',
          ISTIO_NAMESPACE,
          'create',
          'secret',
          'generic',
          'cacerts',
          `--from-file=ca-cert.pem=${files.caCertFile}`,
          `--from-file=ca-key.pem=${files.caKeyFile}`,
          `--from-file=root-cert.pem=${files.rootCertFile}`,
          `--from-file=cert-chain.pem=${files.certChainFile}`,
        ],
      },
      (r) => `cannot create the plug-in CA secret cacerts in ${ISTIO_NAMESPACE}: ${tail(r)}`,
    );
  } finally {
    await dir?.remove();
  }
  await must(
    k,
    { argv: ['kubectl', '--context', k.context(), '-n', ISTIO_NAMESPACE, 'label', 'secret', 'cacerts', `${RUN_LABEL}=${run.runId}`] },
    (r) => `cannot label secret cacerts: ${tail(r)}`,
  );
  k.log(`meshconform: installing Istio (${o.istioProfile} profile, trust domain ${run.trustDomain}, the run's plug-in CA)`);
  await must(
    k,
    {
      // The access log (one line per connection on the sidecar's stdout) is what a failing cell's evidence shows.
      argv: [
        'istioctl',
        '--context',
        k.context(),
        'install',
        '-y',
        '--set',
        `profile=${o.istioProfile}`,
        '--set',
        `meshConfig.trustDomain=${run.trustDomain}`,
        '--set',
        'meshConfig.accessLogFile=/dev/stdout',
      ],
      timeoutMs: o.installTimeoutMs,
    },
    (r) =>
      `the Istio install failed (istioctl install, ${o.istioProfile} profile): ${tail(r, 8)}. What to do: rerun with --keep and look at kubectl --context ${k.context()} -n ${ISTIO_NAMESPACE} get pods; check that istioctl supports the profile and that the cluster has room (about 4 GB)`,
  );
}

const contextChecked = new WeakMap<ClusterBackendOptions, Promise<void>>();

/** kubectl runs and the kubeconfig has the context (once per backend: the trust domain read needs it first). */
function checkContext(k: Kube, o: ClusterBackendOptions): Promise<void> {
  let p = contextChecked.get(o);
  if (!p) {
    p = checkContextOnce(k, o);
    contextChecked.set(o, p);
  }
  return p;
}

async function checkContextOnce(k: Kube, o: ClusterBackendOptions): Promise<void> {
  await must(k, { argv: ['kubectl', 'version', '--client', '-o', 'json'], dryRunStdout: '{}' }, (r) => `kubectl does not run: ${tail(r)}`);
  const ctx = await k.runner.run({ argv: ['kubectl', 'config', 'get-contexts', o.context, '-o', 'name'], dryRunStdout: o.context });
  if (ctx.notFound) throw new BackendError(notFound('kubectl'));
  if (ctx.exitCode !== 0) {
    const all = await k.runner.run({ argv: ['kubectl', 'config', 'get-contexts', '-o', 'name'] });
    const names =
      all.exitCode === 0
        ? all.stdout
            .split('\n')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
    throw new BackendError(
      `kubeconfig has no context "${o.context}" (${names.length > 0 ? `it has: ${names.join(', ')}` : 'it has none'}). What to do: pass an existing one with --context (kubectl config get-contexts), or set KUBECONFIG to the file that has it`,
    );
  }
}

async function preflightCluster(k: Kube, o: ClusterBackendOptions): Promise<string | undefined> {
  await checkContext(k, o);
  const missing: string[] = [];
  for (const [verb, resource, ns] of requiredPermissions(o.rootNamespace)) {
    const r = await k.runner.run({ argv: ['kubectl', '--context', o.context, 'auth', 'can-i', verb, resource, ...(ns ? ['-n', ns] : ['--all-namespaces'])], dryRunStdout: 'yes' });
    if (r.exitCode === 0 && r.stdout.trim() === 'yes') continue;
    if (r.stdout.trim() === 'no') {
      missing.push(`${verb} ${resource}${ns ? ` in ${ns}` : ''}`);
      continue;
    }
    throw new BackendError(
      `cannot ask the cluster of context ${o.context} what this user may do (kubectl auth can-i): ${tail(r)}. What to do: check that the cluster is reachable (kubectl --context ${o.context} get namespaces)`,
    );
  }
  if (missing.length > 0) {
    throw new BackendError(
      `the user of context ${o.context} lacks permissions the run needs: may not ${missing.join(', ')} (kubectl auth can-i). What to do: grant the RBAC in docs/kubernetes.md (section "Running against your cluster", Permissions), or use a context that has it`,
    );
  }
  await must(
    k,
    {
      argv: ['kubectl', '--context', o.context, 'get', 'crd', 'peerauthentications.security.istio.io', '-o', 'name'],
      dryRunStdout: 'customresourcedefinition.apiextensions.k8s.io/peerauthentications.security.istio.io',
    },
    (r) =>
      `context ${o.context} has no PeerAuthentication API (${tail(r, 2)}): is a mesh installed? What to do: install the mesh first; --backend cluster never installs one (--backend kind does)`,
  );
  // istiod's image tag is its version (same-second tie rules differ by version); a vendor's mesh may have none.
  const img = await k.runner.run({
    argv: [
      'kubectl',
      '--context',
      o.context,
      '-n',
      o.rootNamespace,
      'get',
      'deployment',
      'istiod',
      '--ignore-not-found',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ],
    dryRunStdout: 'docker.io/istio/pilot:1.x',
  });
  const tag = img.exitCode === 0 ? /:v?(\d+\.\d+(?:\.\d+)?)[^/]*$/.exec(img.stdout.trim())?.[1] : undefined;
  k.log(
    tag
      ? `meshconform: istiod ${tag} in ${o.rootNamespace}`
      : `meshconform: no istiod version found in ${o.rootNamespace}: scenarios with same-second ties run as if on Istio 1.23 or later`,
  );
  return tag;
}

/** Every kind the harness applies: server-side apply is an HTTP PATCH, which needs `patch` besides `create`. */
const APPLIED_KINDS = ['namespaces', 'deployments.apps', 'services', 'serviceaccounts', 'configmaps', 'secrets', 'peerauthentications.security.istio.io'] as const;

/** What the harness does in a cluster, checked with `kubectl auth can-i` before anything is created. */
export const REQUIRED_PERMISSIONS: readonly (readonly [string, string])[] = [
  ...APPLIED_KINDS.flatMap((kind) => [['create', kind] as const, ['patch', kind] as const]),
  ['get', 'namespaces'],
  ['delete', 'namespaces'],
  // `kubectl wait --for=condition=Available` gets, then watches, the deployments.
  ['get', 'deployments.apps'],
  ['watch', 'deployments.apps'],
  ['list', 'deployments.apps'],
  ['list', 'pods'],
  ['create', 'pods/exec'],
  ['list', 'peerauthentications.security.istio.io'],
  ['delete', 'peerauthentications.security.istio.io'],
  // Admission scenarios wait for istiod's validating webhook to fail closed.
  ['get', 'validatingwebhookconfigurations.admissionregistration.k8s.io'],
  ['list', 'validatingwebhookconfigurations.admissionregistration.k8s.io'],
];

/** REQUIRED_PERMISSIONS, plus reading the mesh configuration (trust domain) in the Istio namespace. */
function requiredPermissions(istioNamespace: string): (readonly [string, string, string?])[] {
  return [...REQUIRED_PERMISSIONS, ['get', 'configmaps', istioNamespace]];
}

async function manifestContext(
  o: KubeBackendOptions,
  run: OpenOptions,
  image: string,
  pull: ManifestContext['imagePullPolicy'],
  injection: readonly [string, string],
): Promise<ManifestContext> {
  await ensureProbeAgent(o.harnessDir); // a checkout's bundle of src/agent, rebuilt when older than its sources
  const harnessFiles: HarnessFile[] = [];
  for (const path of POD_HARNESS_FILES) {
    try {
      harnessFiles.push({ path, content: await readFile(join(o.harnessDir, path), 'utf8') });
    } catch (err) {
      throw new BackendError(`cannot read harness file ${join(o.harnessDir, path)}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { runId: run.runId, image, imagePullPolicy: pull, harnessFiles, appTls: run.appTls, injectionLabel: injection, owner: ownerAnnotations() };
}

function redactMaterial(m: AgentMaterial): unknown {
  return {
    ...(m.meshCaPem ? { meshCaPem: '<mesh CA certificate>' } : {}),
    appCaPem: '<echo app CA certificate>',
    clients: Object.fromEntries(Object.keys(m.clients).map((name) => [name, { certPem: `<${name} client certificate>`, keyPem: '<redacted: private key>' }])),
  };
}

function detailsOf(o: KubeBackendOptions, state: KubeState, rootNamespace: string): Record<string, string> {
  if (o.backend === 'cluster') return { context: state.context, rootNamespace, identity: o.userCa ? 'supplied' : 'sidecar-certs' };
  return {
    context: state.context,
    istioProfile: o.istioProfile,
    ...(state.istioVersion ? { istioVersion: state.istioVersion } : {}),
    ...(state.nodeImage ? { kindNodeImage: state.nodeImage } : {}),
    ...(o.kindCluster ? { kindCluster: o.kindCluster } : {}),
  };
}

function unsupportedOn(o: KubeBackendOptions, meshModes: readonly MeshMode[], rootNamespace: string, s: Scenario, m: MeshMode): string | undefined {
  if (!meshModes.includes(m)) {
    return o.backend === 'kind'
      ? `${m} mode needs --istio-profile ambient (this run installs the ${o.istioProfile} profile)`
      : `the mesh of context ${o.context} is not declared to serve ${m} mode (--mesh-modes)`;
  }
  if (s.rootNamespace !== rootNamespace) {
    return `the mesh's root namespace is ${rootNamespace}, the scenario's is ${s.rootNamespace} (a mesh has one root namespace, set at install time)`;
  }
  if (o.backend === 'cluster' && !o.allowMeshPolicies && s.policies.some((p) => p.namespace === rootNamespace)) {
    return `it applies mesh-wide policies in ${rootNamespace}, which would change the whole mesh of context ${o.context} while it runs; pass --allow-mesh-policies to run it`;
  }
  if (s.workloads.some((w) => w.namespace === rootNamespace || w.namespace === ISTIO_NAMESPACE)) {
    return `it places workloads in the mesh's own namespace ${rootNamespace}, which the harness never creates or deletes`;
  }
  return undefined;
}

/** What opening the cluster needs from the run: its id and trust domain, the plug-in CA (kind), the agent's material. */
function openOptions(o: KubeBackendOptions, so: SessionOptions): OpenOptions {
  if (so.trustDomain === undefined) throw new BackendError(`the ${o.backend} backend serves one trust domain: the run must name it`);
  const pki = so.pkiFor(so.trustDomain);
  return {
    runId: so.runId,
    trustDomain: so.trustDomain,
    ...(o.backend === 'kind' ? { writeCaFiles: (dir: PrivateDir) => pki.writeCaFiles(dir) } : {}),
    appTls: pki.appIdentity(),
    agent: { material: agentMaterial(o, pki), timeoutMs: so.probe.timeoutMs, concurrency: so.probe.concurrency },
  };
}

/**
 * The probe agent's credentials: the run's PKI on kind (its CA is the mesh's plug-in CA), certificates issued from the
 * user's CA (`--mesh-ca`), or only what needs no mesh key (the agent pod's sidecar supplies the mesh credential; expired
 * and other-trust-domain certificates would need the mesh CA's key, which the run does not have).
 */
function agentMaterial(o: KubeBackendOptions, pki: SessionPki): AgentMaterial {
  const own = pki.probeMaterial();
  if (o.backend === 'kind') return own;
  if (o.userCa) {
    const issued = issueFromUserCa(o.userCa, { trustDomain: pki.trustDomain, otherTrustDomain: pki.otherTrustDomain, identity: pki.probeIdentity });
    const foreignCa = own.clients.foreignCa;
    return { meshCaPem: issued.meshCaPem!, appCaPem: own.appCaPem, clients: { ...issued.clients, ...(foreignCa ? { foreignCa } : {}) } };
  }
  return { appCaPem: own.appCaPem, clients: own.clients.foreignCa ? { foreignCa: own.clients.foreignCa } : {} };
}

/** The opened cluster as the pipeline's session: the probe agent is its prober. */
function sessionOf(run: KubeRun, details: () => Record<string, string>): BackendSession {
  return {
    details: () => ({ ...details(), ...(run.agent?.meshIdentity ? { probeIdentity: run.agent.meshIdentity } : {}) }),
    ...(run.agent ? { prober: run.agent } : {}),
    unsupportedHere: (s, m) => run.unsupportedHere(s, m),
    awaitAdmissionReady: () => run.awaitAdmissionReady(),
    deploy: async (d) => environmentOf(await run.deploy(d.scenario, d.meshMode), d.scenario),
    close: () => run.close(),
  };
}

/** A deployed scenario as an environment: probes go to each pod's IP on the workload's own ports. */
function environmentOf(ks: KubeScenario, s: Scenario): Environment {
  const targets = new Map(
    [...ks.targets].map(([wk, t]) => {
      const w = s.workloads.find((x) => `${x.namespace}/${x.name}` === wk);
      return [wk, { address: t.address, ports: new Map((w?.ports ?? []).map((p) => [p.port, p.port])) }] as const;
    }),
  );
  return {
    targets,
    applyPolicies: (policies): Promise<ApplyResult> => ks.applyPolicies(policies),
    health: () => [],
    ...(ks.configEvidence ? { configEvidence: ks.configEvidence.bind(ks) } : {}),
    ...(ks.evidence ? { evidence: ks.evidence.bind(ks) } : {}),
    stop: () => ks.remove(),
  };
}
