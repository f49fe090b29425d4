import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshMode, PeerAuthenticationManifest, Scenario, WorkloadKey } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { createPrivateDir, type PrivateDir } from '../../util/private-dir.js';
import { openAgentSession, type AgentMaterial, type AgentSession } from './agent-session.js';
import { commandLine, type Command, type CommandResult, type CommandRunner } from './command-runner.js';
import { FIELD_MANAGER, KIND_CLUSTER_PREFIX, RUN_LABEL, WORKLOAD_LABEL, ownerAnnotations, runSuffix } from './labels.js';
import {
  OUTPUT_CERTS_DIR,
  POD_HARNESS_DIR,
  POD_HARNESS_FILES,
  PROBE_AGENT,
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
  /** Registers a clean-up that runs on failure, Ctrl-C and SIGTERM (src/run/teardown.ts, injected: a stage cannot import run/). */
  readonly pushTeardown: (label: string, fn: () => Promise<void>) => () => void;
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
  /** Builds (or finds) the local image with node and the harness; loaded into the cluster with `kind load docker-image`. */
  readonly buildImage: () => Promise<string>;
  /** Timeout of `istioctl install`. */
  readonly installTimeoutMs: number;
}

export interface ClusterBackendOptions extends CommonOptions {
  readonly backend: 'cluster';
  /** kubeconfig context of a cluster with a mesh already installed. */
  readonly context: string;
  /** Image with node ≥ 20 the cluster can pull (the harness files arrive in a ConfigMap). */
  readonly image: string;
  /** Namespace label that enrols a namespace in the sidecar mesh, e.g. `istio-injection=enabled` or `istio.io/rev=stable`. */
  readonly injectionLabel: readonly [string, string];
  /** The mesh's root namespace (mesh-wide policies live there). */
  readonly rootNamespace: string;
  /** Allow scenarios that apply mesh-wide policies (root namespace): they change the whole mesh while they run. */
  readonly allowMeshPolicies: boolean;
  /** `supplied`: the agent presents certificates issued from a CA the user gave; `sidecar-certs`: its own sidecar's (OUTPUT_CERTS). */
  readonly identity: 'supplied' | 'sidecar-certs';
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
  deploy(s: Scenario, meshMode: MeshMode): Promise<KubeScenario>;
  close(): Promise<void>;
}

export type ApplyResult = { readonly kind: 'applied' } | { readonly kind: 'rejected'; readonly message: string };

export interface KubeScenario {
  /** Pod IP of every workload; probes go to the workload (container) ports. */
  readonly targets: ReadonlyMap<WorkloadKey, { readonly address: string }>;
  /** Workload ports left out of their Service (spec R4.5), for the record. */
  readonly portsWithoutService: readonly string[];
  applyPolicies(policies: readonly PeerAuthenticationManifest[]): Promise<ApplyResult>;
  remove(): Promise<void>;
}

export interface KubeBackend {
  readonly name: 'kind' | 'cluster';
  readonly dryRun: boolean;
  /** Recorded in the report (environment.details). */
  details(): Record<string, string>;
  /** Why this backend cannot run a scenario in a mesh mode; undefined when it can. */
  unsupported(s: Scenario, meshMode: MeshMode): string | undefined;
  open(o: OpenOptions): Promise<KubeRun>;
}

const ISTIO_NAMESPACE = 'istio-system';
const CA_FILE_NAMES: Record<keyof PluginCaFiles, string> = { caCertFile: 'ca-cert.pem', caKeyFile: 'ca-key.pem', rootCertFile: 'root-cert.pem', certChainFile: 'cert-chain.pem' };
const DEFAULT_ROOT_NAMESPACE = 'istio-system';
/** A webhook's refusal as kubectl prints it (`admission webhook "validation.istio.io" denied the request: …`). */
const WEBHOOK_DENIED = /admission webhook .*denied the request|denied the request/i;

/** The kind and cluster backends: Istio (or a vendor's mesh) on Kubernetes, every command through the injected runner. */
export function createKubeBackend(o: KubeBackendOptions): KubeBackend {
  const runner = o.runner;
  const log = o.log ?? (() => {});
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const meshModes: readonly MeshMode[] = o.backend === 'kind' ? (o.istioProfile === 'ambient' ? ['sidecar', 'ambient'] : ['sidecar']) : o.meshModes;
  const rootNamespace = o.backend === 'kind' ? DEFAULT_ROOT_NAMESPACE : o.rootNamespace;
  let context = o.backend === 'cluster' ? o.context : kindContext(o.kindCluster ?? '');
  const owned: { label: string; fn: () => Promise<void>; unregister: () => void }[] = [];
  // Set once the run's teardown stack runs (Ctrl-C, SIGTERM): no step creates anything after that.
  let interrupted = false;

  return {
    name: o.backend,
    dryRun: runner.dryRun,
    details(): Record<string, string> {
      if (o.backend === 'cluster') return { context, rootNamespace, identity: o.identity };
      return { context, istioProfile: o.istioProfile, ...(o.istioVersion ? { istioVersion: o.istioVersion } : {}), ...(o.kindCluster ? { kindCluster: o.kindCluster } : {}) };
    },
    unsupported(s, m) {
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
    },
    async open(run) {
      const k: Kube = { runner, log, context: () => context, own, interrupted: () => interrupted };
      try {
        if (o.backend === 'kind') {
          await preflightKind(k, o);
          const name = o.kindCluster ?? `${KIND_CLUSTER_PREFIX}${runSuffix(run.runId)}`;
          context = kindContext(name);
          await kindCluster(k, o, name);
          const image = runner.dryRun ? '<meshconform/node-harness image, built locally>' : await o.buildImage();
          log(`meshconform: loading image ${image} into kind cluster ${name}`);
          await must(k, { argv: ['kind', 'load', 'docker-image', image, '--name', name], timeoutMs: 600_000 }, (r) => `cannot load the image ${image} into kind cluster ${name}: ${tail(r)}. What to do: check that Docker is running and the image exists (docker images meshconform/node-harness)`);
          const ctx = await manifestContext(o, run, image, 'Never', ['istio-injection', 'enabled']);
          await installIstio(k, o, run, ctx);
          return await openRun(k, run, ctx, 'outside', rootNamespace);
        }
        await preflightCluster(k, o);
        const ctx = await manifestContext(o, run, o.image, 'IfNotPresent', o.injectionLabel);
        return await openRun(k, run, ctx, o.identity === 'sidecar-certs' ? 'sidecar-certs' : 'outside', rootNamespace);
      } catch (err) {
        await unwind();
        throw err;
      }
    },
  };

  /**
   * Registers a clean-up both with the run's signal-safe teardown stack and with this backend, which runs its own
   * (newest first) on close or when a start fails. Returns a function that runs this one clean-up now.
   */
  function own(label: string, fn: () => Promise<void>): () => Promise<void> {
    const entry = {
      label,
      fn,
      unregister: o.pushTeardown(label, async () => {
        interrupted = true;
        await fn();
      }),
    };
    owned.push(entry);
    return async () => {
      const i = owned.indexOf(entry);
      if (i < 0) return;
      owned.splice(i, 1);
      entry.unregister();
      await fn();
    };
  }

  async function unwind(): Promise<void> {
    const problems: string[] = [];
    while (owned.length > 0) {
      const e = owned.pop()!;
      e.unregister();
      try {
        await e.fn();
      } catch (err) {
        problems.push(`${e.label}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) throw new BackendError(`clean-up incomplete: ${problems.join('; ')}`);
  }

  async function openRun(k: Kube, run: OpenOptions, ctx: ManifestContext, identity: 'outside' | 'sidecar-certs', root: string): Promise<KubeRun> {
    const probeNs = `meshconform-probe-${runSuffix(run.runId)}`;
    // Checked before its clean-up is registered: a namespace someone else owns is never deleted.
    await refuseForeignNamespaces(k, run.runId, [probeNs]);
    k.own(`probe namespace ${probeNs}`, () => deleteNamespaces(k, [probeNs]));
    await apply(k, probeAgentManifests(ctx, { namespace: probeNs, identity }), (r) => `cannot create the probe agent in namespace ${probeNs}: ${tail(r)}`);
    await waitAvailable(k, probeNs, `deployment/${PROBE_AGENT}`, o.podReadyTimeoutMs, 'the probe agent');
    const exec: Command = {
      argv: ['kubectl', '--context', k.context(), '-n', probeNs, 'exec', '-i', `deployment/${PROBE_AGENT}`, '-c', 'agent', '--', 'node', `${POD_HARNESS_DIR}/probe-agent/probe-agent.mjs`],
    };
    const hello = {
      timeoutMs: run.agent.timeoutMs,
      concurrency: run.agent.concurrency,
      material: run.agent.material,
      ...(identity === 'sidecar-certs' ? { istioOutputCerts: OUTPUT_CERTS_DIR, waitForCertsMs: 60_000 } : {}),
    };
    let agent: AgentSession | undefined;
    if (runner.dryRun) {
      runner.stream({ ...exec, show: `${JSON.stringify({ type: 'hello', protocol: 1, ...hello, material: redactMaterial(hello.material) })}\n<one {"type":"batch"} line per probe round>` });
    } else {
      log(`meshconform: probe agent session: ${commandLine(exec.argv)}`);
      agent = await openAgentSession(runner.stream(exec), hello, `probe agent in ${probeNs}`);
    }
    k.own('probe agent session', async () => void (await agent?.close().catch(() => undefined)));
    return {
      context: k.context(),
      ...(agent ? { agent } : {}),
      deploy: (s, m) => deployScenario(k, run, ctx, s, m, root),
      close: unwind,
    };
  }

  async function deployScenario(k: Kube, run: OpenOptions, ctx: ManifestContext, s: Scenario, m: MeshMode, root: string): Promise<KubeScenario> {
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
        { argv: ['kubectl', '--context', k.context(), 'delete', 'peerauthentications.security.istio.io', '--all-namespaces', '-l', `${RUN_LABEL}=${run.runId}`, '--ignore-not-found'] },
        (r) => `cannot remove the policies of ${where}: ${tail(r)}`,
      );
      await deleteNamespaces(k, [...namespaces, ...extra]);
    });
    try {
      log(`meshconform: ${where}: deploying ${s.workloads.length} workload(s) in ${namespaces.join(', ')}`);
      const manifests: Manifest[] = [...scenarioManifests(ctx, s, m), ...extra.map((ns) => namespaceManifest(ctx, ns, m))];
      await apply(k, manifests, (r) => `${where}: cannot create its workloads: ${tail(r)}`);
      for (const ns of namespaces) await waitAvailable(k, ns, 'deployment', o.podReadyTimeoutMs, `the workloads of ${where}`, `${RUN_LABEL}=${run.runId}`);
      const targets = new Map<WorkloadKey, { address: string }>();
      for (const ns of namespaces) {
        const inNs = s.workloads.filter((w) => w.namespace === ns);
        const r = await must(
          k,
          {
            argv: ['kubectl', '--context', k.context(), '-n', ns, 'get', 'pods', '-l', `${RUN_LABEL}=${run.runId}`, '-o', 'json'],
            dryRunStdout: JSON.stringify({ items: inNs.map((w) => ({ metadata: { labels: { [WORKLOAD_LABEL]: w.name } }, status: { phase: 'Running', podIP: `POD_IP(${ns}/${w.name})` } })) }),
          },
          (res) => `${where}: cannot list its pods in ${ns}: ${tail(res)}`,
        );
        const pods = parseJson<{ items?: { metadata?: { labels?: Record<string, string>; deletionTimestamp?: string }; status?: { phase?: string; podIP?: string } }[] }>(r.stdout, 'kubectl get pods');
        for (const w of inNs) {
          const pod = (pods.items ?? []).find((p) => p.metadata?.labels?.[WORKLOAD_LABEL] === w.name && p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.status?.podIP);
          if (!pod) throw new BackendError(`${where}: no running pod with an IP for workload ${ns}/${w.name}. What to do: kubectl --context ${k.context()} -n ${ns} describe pods -l ${WORKLOAD_LABEL}=${w.name}`);
          targets.set(`${ns}/${w.name}`, { address: pod.status!.podIP! });
        }
      }
      const without = [...servicePlan(s)].flatMap(([wk, ports]) => ports.filter((p) => p.servicePort === undefined).map((p) => `${wk}:${p.port}`));
      return {
        targets,
        portsWithoutService: without,
        async applyPolicies(policies) {
          const groups = policyGroups(run.runId, policies);
          for (let i = 0; i < groups.length; i++) {
            // Kubernetes stamps creation times in whole seconds: a later group must land in a later second.
            if (i > 0) await sleep(1100);
            if (k.interrupted()) throw new BackendError('the run is being cleaned up: nothing more is applied');
            const r = await runner.run(applyCommand(k, groups[i]!));
            if (r.exitCode !== 0) {
              const message = tail(r, 4);
              if (WEBHOOK_DENIED.test(r.stderr)) return { kind: 'rejected', message };
              throw new BackendError(`${where}: kubectl apply of its policies failed: ${message}`);
            }
          }
          return { kind: 'applied' };
        },
        remove,
      };
    } catch (err) {
      await remove().catch(() => undefined);
      throw err;
    }
  }
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
    argv: ['kubectl', '--context', k.context(), '-n', ns, 'wait', '--for=condition=Available', what, ...(selector ? ['-l', selector] : []), `--timeout=${Math.ceil(timeoutMs / 1000)}s`],
    timeoutMs: timeoutMs + 30_000,
  });
  if (r.exitCode === 0) return;
  const pods = await k.runner.run({ argv: ['kubectl', '--context', k.context(), '-n', ns, 'get', 'pods', '-o', 'wide', '--no-headers'] });
  const state = pods.exitCode === 0 && pods.stdout.trim() ? pods.stdout.trim().split('\n').slice(0, 10).map((l) => l.replace(/\s+/g, ' ')).join(' | ') : tail(r);
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

async function preflightKind(k: Kube, o: KindBackendOptions): Promise<void> {
  await must(k, { argv: ['kind', 'version'], dryRunStdout: 'kind v0.x' }, (r) => `kind does not run: ${tail(r)}`);
  await must(k, { argv: ['kubectl', 'version', '--client', '-o', 'json'], dryRunStdout: '{}' }, (r) => `kubectl does not run: ${tail(r)}`);
  const v = await must(
    k,
    { argv: ['istioctl', 'version', '--remote=false', '-o', 'json'], dryRunStdout: JSON.stringify({ clientVersion: { version: o.istioVersion ?? '1.x' } }) },
    (r) => `istioctl does not run: ${tail(r)}`,
  );
  const version = istioctlVersion(v.stdout);
  if (o.istioVersion !== undefined && !versionMatches(version, o.istioVersion)) {
    throw new BackendError(
      `istioctl on PATH is version ${version ?? '(unknown)'}, but --istio-version asks for ${o.istioVersion}. What to do: put istioctl ${o.istioVersion} first on PATH (https://istio.io/latest/docs/setup/additional-setup/download-istio-release/), or drop --istio-version to use ${version ?? 'the one on PATH'}`,
    );
  }
  if (version) k.log(`meshconform: istioctl ${version}`);
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

async function kindCluster(k: Kube, o: KindBackendOptions, name: string): Promise<void> {
  const list = await must(k, { argv: ['kind', 'get', 'clusters'], dryRunStdout: o.kindCluster ?? '' }, (r) => `kind cannot list clusters: ${tail(r)}. What to do: check that Docker runs (kind needs it)`);
  const existing = list.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  if (o.kindCluster !== undefined) {
    if (!existing.includes(name)) {
      throw new BackendError(`--kind-cluster ${name}: kind has no such cluster (it has: ${existing.join(', ') || 'none'}). What to do: leave out --kind-cluster to create one, or create it with kind create cluster --name ${name}`);
    }
    k.log(`meshconform: reusing kind cluster ${name}`);
    return;
  }
  if (existing.includes(name)) throw new BackendError(`kind cluster ${name} already exists; run \`meshconform reap --kind\` or pick another run`);
  // Registered before the create: an interrupt while kind works still deletes what it made.
  if (!o.keep) k.own(`kind cluster ${name}`, async () => void (await must(k, { argv: ['kind', 'delete', 'cluster', '--name', name], timeoutMs: 300_000 }, (r) => `cannot delete kind cluster ${name}: ${tail(r)}`)));
  k.log(`meshconform: creating kind cluster ${name} (a minute or two)`);
  await must(
    k,
    { argv: ['kind', 'create', 'cluster', '--name', name, '--config', join(o.harnessDir, 'kind/cluster.yaml'), '--wait', '5m'], timeoutMs: 900_000 },
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
  if (!run.writeCaFiles) throw new BackendError('the kind backend needs the run\'s CA to install as Istio\'s plug-in CA');
  // The CA key reaches kubectl as a 0600 file in a private folder, removed as soon as the secret exists.
  const dir = k.runner.dryRun ? undefined : await createPrivateDir('meshconform-cacerts-');
  try {
    const files = dir
      ? await run.writeCaFiles(dir)
      : Object.fromEntries(Object.entries(CA_FILE_NAMES).map(([k2, name]) => [k2, `${tmpdir()}/meshconform-cacerts-XXXXXX/${name}`])) as unknown as PluginCaFiles;
    await must(
      k,
      {
        argv: [
          'kubectl', '--context', k.context(), '-n', ISTIO_NAMESPACE, 'create', 'secret', 'generic', 'cacerts',
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
  await must(k, { argv: ['kubectl', '--context', k.context(), '-n', ISTIO_NAMESPACE, 'label', 'secret', 'cacerts', `${RUN_LABEL}=${run.runId}`] }, (r) => `cannot label secret cacerts: ${tail(r)}`);
  k.log(`meshconform: installing Istio (${o.istioProfile} profile, trust domain ${run.trustDomain}, the run's plug-in CA)`);
  await must(
    k,
    {
      argv: ['istioctl', '--context', k.context(), 'install', '-y', '--set', `profile=${o.istioProfile}`, '--set', `meshConfig.trustDomain=${run.trustDomain}`],
      timeoutMs: o.installTimeoutMs,
    },
    (r) =>
      `the Istio install failed (istioctl install, ${o.istioProfile} profile): ${tail(r, 8)}. What to do: rerun with --keep and look at kubectl --context ${k.context()} -n ${ISTIO_NAMESPACE} get pods; check that istioctl supports the profile and that the cluster has room (about 4 GB)`,
  );
}

async function preflightCluster(k: Kube, o: ClusterBackendOptions): Promise<void> {
  await must(k, { argv: ['kubectl', 'version', '--client', '-o', 'json'], dryRunStdout: '{}' }, (r) => `kubectl does not run: ${tail(r)}`);
  const ctx = await k.runner.run({ argv: ['kubectl', 'config', 'get-contexts', o.context, '-o', 'name'], dryRunStdout: o.context });
  if (ctx.notFound) throw new BackendError(notFound('kubectl'));
  if (ctx.exitCode !== 0) {
    const all = await k.runner.run({ argv: ['kubectl', 'config', 'get-contexts', '-o', 'name'] });
    const names = all.exitCode === 0 ? all.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    throw new BackendError(
      `kubeconfig has no context "${o.context}" (${names.length > 0 ? `it has: ${names.join(', ')}` : 'it has none'}). What to do: pass an existing one with --context (kubectl config get-contexts), or set KUBECONFIG to the file that has it`,
    );
  }
  const missing: string[] = [];
  for (const [verb, resource] of REQUIRED_PERMISSIONS) {
    const r = await k.runner.run({ argv: ['kubectl', '--context', o.context, 'auth', 'can-i', verb, resource, '--all-namespaces'], dryRunStdout: 'yes' });
    if (r.exitCode === 0 && r.stdout.trim() === 'yes') continue;
    if (r.stdout.trim() === 'no') {
      missing.push(`${verb} ${resource}`);
      continue;
    }
    throw new BackendError(`cannot ask the cluster of context ${o.context} what this user may do (kubectl auth can-i): ${tail(r)}. What to do: check that the cluster is reachable (kubectl --context ${o.context} get namespaces)`);
  }
  if (missing.length > 0) {
    throw new BackendError(
      `the user of context ${o.context} lacks permissions the run needs: may not ${missing.join(', ')} (kubectl auth can-i). What to do: grant the RBAC in the README (section "Running against your cluster", Permissions), or use a context that has it`,
    );
  }
  await must(
    k,
    { argv: ['kubectl', '--context', o.context, 'get', 'crd', 'peerauthentications.security.istio.io', '-o', 'name'], dryRunStdout: 'customresourcedefinition.apiextensions.k8s.io/peerauthentications.security.istio.io' },
    (r) => `context ${o.context} has no PeerAuthentication API (${tail(r, 2)}): is a mesh installed? What to do: install the mesh first; --backend cluster never installs one (--backend kind does)`,
  );
}

/** What the harness does in a cluster, checked with `kubectl auth can-i` before anything is created. */
export const REQUIRED_PERMISSIONS: readonly (readonly [string, string])[] = [
  ['create', 'namespaces'],
  ['delete', 'namespaces'],
  ['create', 'deployments.apps'],
  ['create', 'services'],
  ['create', 'serviceaccounts'],
  ['create', 'configmaps'],
  ['create', 'secrets'],
  ['list', 'pods'],
  ['create', 'pods/exec'],
  ['create', 'peerauthentications.security.istio.io'],
  ['delete', 'peerauthentications.security.istio.io'],
];

async function manifestContext(o: KubeBackendOptions, run: OpenOptions, image: string, pull: ManifestContext['imagePullPolicy'], injection: readonly [string, string]): Promise<ManifestContext> {
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
