import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace, type INamespace } from 'kubernetes-models/v1/Namespace';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { MeshMode, PeerAuthenticationManifest, PortProtocol, Scenario, Workload, WorkloadKey } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { AGENT_BUNDLE } from './agent-bundle.js';
import { RUN_LABEL, WORKLOAD_LABEL, type OwnerAnnotations } from './labels.js';

/** Every manifest the kube backends apply. */
export type Manifest = INamespace | IServiceAccount | IConfigMap | ISecret | IDeployment | IService | PeerAuthenticationManifest;

/** A file of harness/ shipped to the pods in a ConfigMap (so any image with node ≥ 20.18 runs the echo app and the agent). */
export interface HarnessFile {
  /** Path under harness/, e.g. `echo/echo-app.mjs`. */
  readonly path: string;
  readonly content: string;
}

/** The harness files the pods run, as paths under harness/; the agent is the bundle of src/agent (agent-bundle.ts). */
export const POD_HARNESS_FILES = ['common/harness-error.mjs', 'common/request-line.mjs', 'echo/echo-app.mjs', AGENT_BUNDLE] as const;

/** Where the harness ConfigMap is mounted in every pod. */
export const POD_HARNESS_DIR = '/meshconform/app';
export const POD_CONFIG_DIR = '/meshconform/config';
export const HARNESS_CONFIGMAP = 'meshconform-harness';
export const ECHO_CONFIGMAP = 'meshconform-echo';
export const ECHO_TLS_SECRET = 'meshconform-echo-tls';
export const PROBE_AGENT = 'probe-agent';
export const PROBE_SERVICE_ACCOUNT = 'probe-client';
/** Where the probe pod's sidecar exports its own certificates (Istio proxy metadata OUTPUT_CERTS). */
export const OUTPUT_CERTS_DIR = '/etc/istio-output-certs';

/** What every generated manifest depends on besides the scenario. */
export interface ManifestContext {
  readonly runId: string;
  readonly image: string;
  readonly imagePullPolicy: 'Never' | 'IfNotPresent' | 'Always';
  readonly harnessFiles: readonly HarnessFile[];
  /** The echo application's own (non-mesh) certificate: TLS that reaches the app is answered with it. */
  readonly appTls: { readonly certPem: string; readonly keyPem: string };
  /** Namespace label that puts a namespace's pods in the sidecar mesh, e.g. `istio-injection=enabled`. */
  readonly injectionLabel: readonly [string, string];
  readonly owner: OwnerAnnotations;
}

/** Where one workload port is reachable in its Service; `servicePort` absent: the port is left out of the Service. */
export interface ServicePort {
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly servicePort?: number;
}

/**
 * Which ports go in each workload's Service, and at which Service port. Every Service port differs from its target
 * port and from every container port of the workload, so a mesh that reads `portLevelMtls` keys as Service ports
 * (istio#49098) is caught (spec R4.4). HTTP ports are always in the Service (Istio's HTTP handling needs the declared
 * protocol); every second TCP port of the scenario, in declaration order, is left out, so the per-port passthrough
 * chains of undeclared ports are exercised too (spec R4.5).
 */
export function servicePlan(s: Scenario): Map<WorkloadKey, ServicePort[]> {
  const plan = new Map<WorkloadKey, ServicePort[]>();
  let tcpSeen = 0;
  for (const w of s.workloads) {
    const declared = new Set(w.ports.map((p) => p.port));
    const used = new Set<number>();
    const ports: ServicePort[] = [];
    for (const p of w.ports) {
      if (p.protocol === 'tcp' && tcpSeen++ % 2 === 1) {
        ports.push({ port: p.port, protocol: p.protocol });
        continue;
      }
      const servicePort = pickServicePort(p.port, declared, used);
      used.add(servicePort);
      ports.push({ port: p.port, protocol: p.protocol, servicePort });
    }
    plan.set(key(w), ports);
  }
  return plan;
}

function pickServicePort(port: number, declared: ReadonlySet<number>, used: ReadonlySet<number>): number {
  for (let step = 10000; step < 65535; step += 10000) {
    for (const candidate of [port + step, port - step]) {
      if (candidate >= 1 && candidate <= 65535 && !declared.has(candidate) && !used.has(candidate)) return candidate;
    }
  }
  for (let candidate = 65535; candidate >= 1; candidate--) if (!declared.has(candidate) && !used.has(candidate)) return candidate;
  throw new BackendError(`no free Service port for workload port ${port}`);
}

const key = (w: Workload): WorkloadKey => `${w.namespace}/${w.name}`;

function meta(ctx: ManifestContext, name: string, namespace?: string, labels: Record<string, string> = {}) {
  return { name, ...(namespace !== undefined ? { namespace } : {}), labels: { ...labels, [RUN_LABEL]: ctx.runId } };
}

/** A namespace of the run: the run label, the owner annotations, and the mesh membership label. */
export function namespaceManifest(ctx: ManifestContext, name: string, membership: 'sidecar' | 'ambient' | 'none'): INamespace {
  const labels: Record<string, string> = {};
  if (membership === 'sidecar') labels[ctx.injectionLabel[0]] = ctx.injectionLabel[1];
  if (membership === 'ambient') labels['istio.io/dataplane-mode'] = 'ambient';
  if (membership === 'none') labels['istio-injection'] = 'disabled';
  return checked(new Namespace({ metadata: { ...meta(ctx, name, undefined, labels), annotations: { ...ctx.owner } } }));
}

/** Harness files a workload pod runs, and those the probe pod runs. */
const ECHO_FILES = ['common/harness-error.mjs', 'common/request-line.mjs', 'echo/echo-app.mjs'];
const AGENT_FILES = [AGENT_BUNDLE];

/** Harness files as a ConfigMap (keys cannot hold '/': `echo/echo-app.mjs` is stored as `echo__echo-app.mjs`). */
export function harnessConfigMap(ctx: ManifestContext, namespace: string, paths: readonly string[]): IConfigMap {
  const files = paths.map((p) => {
    const f = ctx.harnessFiles.find((x) => x.path === p);
    if (!f) throw new BackendError(`harness file ${p} was not loaded`);
    return f;
  });
  return checked(new ConfigMap({ metadata: meta(ctx, HARNESS_CONFIGMAP, namespace), data: Object.fromEntries(files.map((f) => [configKey(f.path), f.content])) }));
}

const configKey = (path: string) => path.replace(/\//g, '__');

function harnessVolume(ctx: ManifestContext, files: readonly string[]) {
  return { name: 'harness', configMap: { name: HARNESS_CONFIGMAP, items: files.map((p) => ({ key: configKey(p), path: p })) } };
}

/** The echo application's listeners for one workload: every declared port, on all addresses of the pod. */
export function echoConfig(w: Workload) {
  return {
    listeners: w.ports.map((p) => ({ workload: key(w), port: p.port, address: '0.0.0.0', appPort: p.port })),
    tls: { certFile: `${POD_CONFIG_DIR}/app-cert.pem`, keyFile: `${POD_CONFIG_DIR}/app-key.pem` },
  };
}

/**
 * Everything one scenario deploys: its namespaces (mesh membership per `meshMode`), and per workload a
 * ServiceAccount, a Deployment running the echo application with the scenario's labels and container ports, and a
 * Service (see `servicePlan`). Policies are separate (`policyManifests`): they are applied after the workloads run.
 */
export function scenarioManifests(ctx: ManifestContext, s: Scenario, meshMode: MeshMode): Manifest[] {
  const plan = servicePlan(s);
  const namespaces = [...new Set(s.workloads.map((w) => w.namespace))];
  const out: Manifest[] = [];
  for (const ns of namespaces) {
    out.push(namespaceManifest(ctx, ns, meshMode));
    out.push(harnessConfigMap(ctx, ns, ECHO_FILES));
    const inNs = s.workloads.filter((w) => w.namespace === ns);
    out.push(
      checked(
        new ConfigMap({ metadata: meta(ctx, ECHO_CONFIGMAP, ns), data: Object.fromEntries(inNs.map((w) => [`${w.name}.json`, `${JSON.stringify(echoConfig(w), null, 2)}\n`])) }),
      ),
    );
    out.push(
      checked(new Secret({ metadata: meta(ctx, ECHO_TLS_SECRET, ns), type: 'Opaque', stringData: { 'app-cert.pem': ctx.appTls.certPem, 'app-key.pem': ctx.appTls.keyPem } })),
    );
    for (const sa of [...new Set(inNs.map((w) => w.serviceAccount))]) out.push(checked(new ServiceAccount({ metadata: meta(ctx, sa, ns) })));
    for (const w of inNs) {
      out.push(workloadDeployment(ctx, w));
      const service = workloadService(ctx, w, plan.get(key(w)) ?? []);
      if (service) out.push(service);
    }
  }
  return out;
}

function workloadDeployment(ctx: ManifestContext, w: Workload): IDeployment {
  const selector = { [WORKLOAD_LABEL]: w.name, [RUN_LABEL]: ctx.runId };
  return checked(
    new Deployment({
      metadata: meta(ctx, w.name, w.namespace, { [WORKLOAD_LABEL]: w.name }),
      spec: {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: { ...w.labels, ...selector } },
          spec: {
            serviceAccountName: w.serviceAccount,
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'echo',
                image: ctx.image,
                imagePullPolicy: ctx.imagePullPolicy,
                command: ['node', `${POD_HARNESS_DIR}/echo/echo-app.mjs`],
                env: [{ name: 'MESHCONFORM_ECHO_CONFIG', value: `${POD_CONFIG_DIR}/echo.json` }],
                ports: w.ports.map((p) => ({ name: portName(p.protocol, p.port), containerPort: p.port, protocol: 'TCP' })),
                readinessProbe: { tcpSocket: { port: w.ports[0]!.port }, periodSeconds: 2 },
                volumeMounts: [
                  { name: 'harness', mountPath: POD_HARNESS_DIR, readOnly: true },
                  { name: 'config', mountPath: POD_CONFIG_DIR, readOnly: true },
                ],
              },
            ],
            volumes: [
              harnessVolume(ctx, ECHO_FILES),
              {
                name: 'config',
                projected: {
                  sources: [{ configMap: { name: ECHO_CONFIGMAP, items: [{ key: `${w.name}.json`, path: 'echo.json' }] } }, { secret: { name: ECHO_TLS_SECRET } }],
                },
              },
            ],
          },
        },
      },
    }),
  );
}

function workloadService(ctx: ManifestContext, w: Workload, ports: readonly ServicePort[]): IService | undefined {
  const inService = ports.filter((p): p is ServicePort & { servicePort: number } => p.servicePort !== undefined);
  if (inService.length === 0) return undefined;
  return checked(
    new Service({
      metadata: meta(ctx, w.name, w.namespace, { [WORKLOAD_LABEL]: w.name }),
      spec: {
        selector: { [WORKLOAD_LABEL]: w.name, [RUN_LABEL]: ctx.runId },
        ports: inService.map((p) => ({ name: portName(p.protocol, p.servicePort), port: p.servicePort, targetPort: p.port, protocol: 'TCP', appProtocol: p.protocol })),
      },
    }),
  );
}

/** Istio reads the protocol from the port name prefix as well as appProtocol; both say the same. */
const portName = (protocol: PortProtocol, port: number) => `${protocol}-${port}`;

export interface ProbeAgentOptions {
  readonly namespace: string;
  /**
   * `outside`: no sidecar; the agent presents the credentials it is given. `sidecar-certs`: a sidecar is injected
   * only to export its own certificate (OUTPUT_CERTS) to a shared volume; the agent's traffic bypasses it.
   */
  readonly identity: 'outside' | 'sidecar-certs';
}

/** The probe pod: one long-lived agent process (`--hold`); sessions are `kubectl exec -i` into it. */
export function probeAgentManifests(ctx: ManifestContext, o: ProbeAgentOptions): Manifest[] {
  const inMesh = o.identity === 'sidecar-certs';
  const labels = { app: 'meshconform-probe-agent', [RUN_LABEL]: ctx.runId };
  const annotations: Record<string, string> = inMesh
    ? {
        'proxy.istio.io/config': `proxyMetadata:\n  OUTPUT_CERTS: ${OUTPUT_CERTS_DIR}\n`,
        // Map form: Istio's injection template ranges over fromJSON of this annotation and writes `name: "{{ $index }}"`
        // then the value (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml), so the key is
        // the volume name. The array form only worked because the duplicate `name` key the index 0 produces is parsed last-wins.
        'sidecar.istio.io/userVolumeMount': JSON.stringify({ 'istio-certs': { mountPath: OUTPUT_CERTS_DIR } }),
        // The sidecar is there for its certificate only: the agent's own TLS must reach the targets untouched.
        'traffic.sidecar.istio.io/includeInboundPorts': '',
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '',
      }
    : {};
  const podLabels: Record<string, string> = { ...labels, 'sidecar.istio.io/inject': inMesh ? 'true' : 'false' };
  return [
    namespaceManifest(ctx, o.namespace, inMesh ? 'sidecar' : 'none'),
    harnessConfigMap(ctx, o.namespace, AGENT_FILES),
    checked(new ServiceAccount({ metadata: meta(ctx, PROBE_SERVICE_ACCOUNT, o.namespace) })),
    checked(
      new Deployment({
        metadata: meta(ctx, PROBE_AGENT, o.namespace, { app: 'meshconform-probe-agent' }),
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels: podLabels, ...(inMesh ? { annotations } : {}) },
            spec: {
              serviceAccountName: PROBE_SERVICE_ACCOUNT,
              terminationGracePeriodSeconds: 2,
              containers: [
                {
                  name: 'agent',
                  image: ctx.image,
                  imagePullPolicy: ctx.imagePullPolicy,
                  command: ['node', `${POD_HARNESS_DIR}/${AGENT_BUNDLE}`, '--hold'],
                  volumeMounts: [
                    { name: 'harness', mountPath: POD_HARNESS_DIR, readOnly: true },
                    ...(inMesh ? [{ name: 'istio-certs', mountPath: OUTPUT_CERTS_DIR, readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [harnessVolume(ctx, AGENT_FILES), ...(inMesh ? [{ name: 'istio-certs', emptyDir: { medium: 'Memory' } }] : [])],
            },
          },
        },
      }),
    ),
  ];
}

/**
 * The scenario's policies as applied: the run label added, `creationTimestamp` dropped (the API server sets it), in
 * groups of equal timestamp, oldest first. Groups are applied at least a second apart, so the cluster's creation
 * times keep the scenario's order ("oldest wins", spec R3) at Kubernetes' one-second resolution; ties stay ties and
 * are decided by name on both sides.
 */
export function policyGroups(runId: string, policies: readonly PeerAuthenticationManifest[], options: { readonly splitTies?: boolean } = {}): PeerAuthenticationManifest[][] {
  const stamp = (p: PeerAuthenticationManifest) => (p.metadata.creationTimestamp === undefined ? -Infinity : Date.parse(p.metadata.creationTimestamp));
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const byStamp = (a: PeerAuthenticationManifest, b: PeerAuthenticationManifest) => (stamp(a) === stamp(b) ? 0 : stamp(a) < stamp(b) ? -1 : 1);
  const sorted = [...policies].sort((a, b) => byStamp(a, b) || cmp(a.metadata.name, b.metadata.name) || cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? ''));
  const groups: PeerAuthenticationManifest[][] = [];
  let last: number | undefined;
  for (const p of sorted) {
    const { creationTimestamp: _, ...metadata } = structuredClone(p.metadata);
    const applied: PeerAuthenticationManifest = { ...structuredClone(p), metadata: { ...metadata, labels: { ...(metadata.labels ?? {}), [RUN_LABEL]: runId } } };
    checkPolicy(applied);
    // Ambient (ztunnel) keeps informer order for same-second ties: each policy then gets its own second, in the
    // order Istio's sidecar rule gives ties (name, then namespace), so creation times alone decide.
    if (groups.length === 0 || stamp(p) !== last || options.splitTies === true) groups.push([]);
    groups.at(-1)!.push(applied);
    last = stamp(p);
  }
  return groups;
}

/** Schema check with @kubernetes-models/istio (its v1beta1 model: the v1 spec is the same schema). */
function checkPolicy(p: PeerAuthenticationManifest): void {
  try {
    new PeerAuthentication({ ...(p as object), apiVersion: 'security.istio.io/v1beta1', kind: 'PeerAuthentication' } as never).validate();
  } catch (err) {
    throw new BackendError(`PeerAuthentication ${p.metadata.namespace ?? ''}/${p.metadata.name} fails the Istio schema: ${(err as Error).message}`, { cause: err });
  }
}

/** Validates a kubernetes-models object and returns its plain JSON (what is applied and printed). */
function checked<T>(model: { validate(): void; toJSON(): unknown }): T {
  try {
    model.validate();
  } catch (err) {
    throw new BackendError(`generated manifest is invalid (a harness bug): ${(err as Error).message}`, { cause: err });
  }
  return model.toJSON() as T;
}

/**
 * Multi-document YAML as `kubectl apply -f -` takes it. `forPlan` (plans and logs): private keys in Secrets are
 * redacted, and the harness files in the harness ConfigMap are shown by size and sha256 instead of in full.
 */
export function toYaml(manifests: readonly Manifest[], options: { readonly forPlan?: boolean } = {}): string {
  return manifests
    .map((m) => {
      let doc: unknown = m;
      if (options.forPlan && m.kind === 'Secret') {
        const s = m as ISecret;
        doc = {
          ...s,
          ...(s.stringData ? { stringData: Object.fromEntries(Object.entries(s.stringData).map(([k, v]) => [k, /key/.test(k) ? '<redacted: private key>' : v])) } : {}),
        };
      }
      if (options.forPlan && m.kind === 'ConfigMap' && m.metadata?.name === HARNESS_CONFIGMAP) {
        const c = m as IConfigMap;
        doc = {
          ...c,
          data: Object.fromEntries(
            Object.entries(c.data ?? {}).map(([k, v]) => [
              k,
              `<harness/${k.replace(/__/g, '/')}: ${Buffer.byteLength(v)} bytes, sha256 ${createHash('sha256').update(v).digest('hex').slice(0, 16)}…>`,
            ]),
          ),
        };
      }
      return stringify(doc, { lineWidth: 0 });
    })
    .join('---\n');
}

/**
 * Same-second ties that decide something: two policies of one namespace at the same level (both namespace-wide, or
 * both with a selector) and the same creationTimestamp. Istio 1.22 orders such ties by `name + "." + namespace`,
 * 1.23 and later by name then namespace (the oracle's rule), ambient by informer order.
 */
export function hasPolicyTies(policies: readonly PeerAuthenticationManifest[]): boolean {
  const seen = new Set<string>();
  for (const p of policies) {
    const id = `${p.metadata.namespace ?? ''}|${p.spec?.selector ? 'selector' : 'namespace'}|${p.metadata.creationTimestamp ?? ''}`;
    if (seen.has(id)) return true;
    seen.add(id);
  }
  return false;
}
