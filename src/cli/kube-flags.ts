import { Option, type Command } from 'commander';
import { argvValue } from './argv-value.js';
import {
  CONVERGENCE_DEFAULTS,
  createDryRunRunner,
  createExecaRunner,
  createKubeBackend,
  loadUserCa,
  type CommandRunner,
  type ConvergenceOptions,
  type KubeBackend,
} from '../backend/kube/index.js';
import { harnessFile } from '../run/data-plane.js';
import { cleaningUp } from '../run/lifecycle.js';
import { shellQuote } from '../report/index.js';
import { HARNESS_VERSION } from '../run/version.js';
import { UsageError } from '../util/errors.js';
import type { CleanupScope, DataPlaneSpec, MeshMode } from '../model/index.js';
import { int } from './command-context.js';

/** Flags of `run` that only the kind and cluster backends read; undefined when not given (defaults applied here). */
export interface KubeFlags {
  /** `--allow-files-outside`: policy file references may leave the scenario folder tree. */
  allowFilesOutside?: boolean;
  kindCluster?: string;
  keep?: boolean;
  istioProfile?: 'default' | 'ambient';
  istioVersion?: string;
  kindNodeImage?: string;
  context?: string;
  meshCa?: string;
  injectionLabel?: string;
  rootNamespace?: string;
  allowMeshPolicies?: boolean;
  convergeSuccesses?: number;
  convergeTimeout?: number;
  convergeInterval?: number;
  podReadyTimeout?: number;
  installTimeout?: number;
  dryRun?: boolean;
}

const POD_READY_DEFAULT_MS = 300_000;
const INSTALL_DEFAULT_MS = 900_000;
const CLUSTER_IMAGE_DEFAULT = 'node:20-slim';

export function addKubeFlags(cmd: Command): Command {
  return cmd
    .optionsGroup('Kind and cluster backends (cells settle by N-in-a-row convergence):')
    .option('--kind-cluster <name>', 'kind backend: reuse this existing kind cluster (never deleted) instead of creating one', argvValue('--kind-cluster'))
    .option('--keep', 'kind backend: leave the cluster the run created in place for debugging')
    .addOption(new Option('--istio-profile <profile>', 'kind backend: Istio profile to install (default: default)').choices(['default', 'ambient']))
    .option('--istio-version <version>', 'kind backend: require this istioctl version (checked against `istioctl version`)', argvValue('--istio-version'))
    .option(
      '--kind-node-image <image>',
      'kind backend: kindest/node image to create the cluster with (default: the one pinned for the istioctl version, see docs/kubernetes.md)',
      argvValue('--kind-node-image'),
    )
    .option('--context <name>', 'cluster backend: kubeconfig context of a cluster with a mesh installed', argvValue('--context'))
    .option(
      '--mesh-ca <dir>',
      "cluster backend: the mesh CA (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem) to issue the probe identities from; default: the probe pod's own sidecar certificate",
    )
    .option('--injection-label <key=value>', 'cluster backend: namespace label that enables sidecar injection (default: istio-injection=enabled)', argvValue('--injection-label'))
    .option('--root-namespace <ns>', "cluster backend: the mesh's root namespace (default: istio-system)", argvValue('--root-namespace'))
    .option('--allow-mesh-policies', 'cluster backend: also run scenarios with mesh-wide policies (they change the whole mesh while they run)')
    .option(
      '--converge-successes <n>',
      `kind/cluster: identical matching results in a row that make a cell converged (default: ${CONVERGENCE_DEFAULTS.successes})`,
      int('--converge-successes', 1, 100),
    )
    .option(
      '--converge-timeout <ms>',
      `kind/cluster: deadline for every cell to converge after an apply (default: ${CONVERGENCE_DEFAULTS.deadlineMs})`,
      int('--converge-timeout', 1000, 3_600_000),
    )
    .option('--converge-interval <ms>', `kind/cluster: pause between probe rounds (default: ${CONVERGENCE_DEFAULTS.intervalMs})`, int('--converge-interval', 0, 600_000))
    .option('--pod-ready-timeout <ms>', `kind/cluster: deadline for pods to become ready (default: ${POD_READY_DEFAULT_MS})`, int('--pod-ready-timeout', 1000, 3_600_000))
    .option('--install-timeout <ms>', `kind backend: deadline of istioctl install (default: ${INSTALL_DEFAULT_MS})`, int('--install-timeout', 10_000, 3_600_000))
    .option('--dry-run', 'kind/cluster: print the plan (every command and manifest) and execute nothing');
}

/** The run flags the kube backend reads. */
export interface KubeRunFlags extends KubeFlags {
  backend: string;
  grep?: string;
  concurrency: number;
  timeout: number;
  image?: string;
  meshModes?: string;
}

/** The kind or cluster backend the flags describe, with its clean-ups in `scope`. */
export async function kubeBackendFrom(
  flags: KubeRunFlags,
  o: { readonly out: NodeJS.WritableStream; readonly interrupt: AbortSignal; readonly scope: CleanupScope },
): Promise<{ backend: KubeBackend; dataPlane: DataPlaneSpec; convergence: ConvergenceOptions; log: (line: string) => void }> {
  const backendName = flags.backend as 'kind' | 'cluster';
  if (backendName === 'cluster' && flags.context === undefined) throw new UsageError('--backend cluster needs --context <kubeconfig context> of a cluster with a mesh installed');
  const injection = parseInjectionLabel(flags.injectionLabel ?? 'istio-injection=enabled');
  const meshModes = parseMeshModes(flags.meshModes ?? 'sidecar');
  const userCa = flags.meshCa !== undefined ? await loadUserCa(flags.meshCa) : undefined;
  const dryRun = flags.dryRun === true;
  const runner: CommandRunner = dryRun ? createDryRunRunner(o.out) : createExecaRunner({ interrupt: o.interrupt, cleaningUp });
  const log = dryRun ? (line: string) => void o.out.write(`# ${line}\n`) : (line: string) => void process.stderr.write(`${line}\n`);
  const common = { runner, harnessDir: harnessFile(''), podReadyTimeoutMs: flags.podReadyTimeout ?? POD_READY_DEFAULT_MS, scope: o.scope, log };
  const backend: KubeBackend =
    backendName === 'kind'
      ? createKubeBackend({
          ...common,
          backend: 'kind',
          ...(flags.kindCluster !== undefined ? { kindCluster: flags.kindCluster } : {}),
          keep: flags.keep === true,
          istioProfile: flags.istioProfile ?? 'default',
          ...(flags.istioVersion !== undefined ? { istioVersion: flags.istioVersion } : {}),
          ...(flags.kindNodeImage !== undefined ? { kindNodeImage: flags.kindNodeImage } : {}),
          installTimeoutMs: flags.installTimeout ?? INSTALL_DEFAULT_MS,
          buildImage: async () => {
            if (flags.image !== undefined) return flags.image;
            // Loaded only for a kind run (testcontainers adds ~0.2 s to every start).
            const { connectDockerEngine, ensureHarnessImage } = await import('../backend/docker/index.js');
            const { docker } = await connectDockerEngine();
            return (await ensureHarnessImage(docker, harnessFile(''))).ref;
          },
        })
      : createKubeBackend({
          ...common,
          backend: 'cluster',
          context: flags.context!,
          image: flags.image ?? CLUSTER_IMAGE_DEFAULT,
          injectionLabel: injection,
          rootNamespace: flags.rootNamespace ?? 'istio-system',
          allowMeshPolicies: flags.allowMeshPolicies === true,
          ...(userCa ? { userCa } : {}),
          meshModes,
        });
  const name =
    backendName === 'kind' ? `istio (kind, ${flags.istioProfile ?? 'default'} profile${flags.istioVersion ? `, ${flags.istioVersion}` : ''})` : `mesh of context ${flags.context}`;
  // The mesh under test is the cluster's: the harness starts no data plane; the backend says which modes it serves.
  const dataPlane: DataPlaneSpec = { name, argv: [], workloadsPerProcess: 1, meshModes: ['sidecar', 'ambient'] };
  const convergence = {
    successes: flags.convergeSuccesses ?? CONVERGENCE_DEFAULTS.successes,
    deadlineMs: flags.convergeTimeout ?? CONVERGENCE_DEFAULTS.deadlineMs,
    intervalMs: flags.convergeInterval ?? CONVERGENCE_DEFAULTS.intervalMs,
  };
  return { backend, dataPlane, convergence, log };
}

function parseInjectionLabel(value: string): [string, string] {
  const m = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(value);
  if (!m) throw new UsageError(`--injection-label must be key=value, e.g. istio-injection=enabled or istio.io/rev=stable, got ${JSON.stringify(value)}`);
  return [m[1]!, m[2]!];
}

export function parseMeshModes(value: string): MeshMode[] {
  const modes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of modes) if (m !== 'sidecar' && m !== 'ambient') throw new UsageError(`--mesh-modes: unknown mode "${m}" (sidecar, ambient)`);
  if (modes.length === 0) throw new UsageError('--mesh-modes needs sidecar, ambient or both');
  return [...new Set(modes as MeshMode[])];
}

/** The run line with every kube setting spelled out (defaults included), for the conformance report. */
export function kubeReproduce(paths: readonly string[], f: KubeRunFlags): string {
  const args = ['npx', `meshconform@${HARNESS_VERSION}`, 'run', ...paths, '--backend', f.backend];
  if (f.backend === 'kind') {
    args.push('--istio-profile', f.istioProfile ?? 'default');
    if (f.istioVersion !== undefined) args.push('--istio-version', f.istioVersion);
    if (f.kindNodeImage !== undefined) args.push('--kind-node-image', f.kindNodeImage);
  } else {
    args.push(
      '--context',
      f.context ?? '',
      '--root-namespace',
      f.rootNamespace ?? 'istio-system',
      '--injection-label',
      f.injectionLabel ?? 'istio-injection=enabled',
      '--mesh-modes',
      f.meshModes ?? 'sidecar',
    );
    if (f.meshCa !== undefined) args.push('--mesh-ca', f.meshCa);
    if (f.allowMeshPolicies) args.push('--allow-mesh-policies');
  }
  if (f.image !== undefined) args.push('--image', f.image);
  if (f.grep !== undefined) args.push('--grep', f.grep);
  args.push('--concurrency', String(f.concurrency), '--timeout', String(f.timeout));
  args.push('--converge-successes', String(f.convergeSuccesses ?? CONVERGENCE_DEFAULTS.successes));
  args.push('--converge-timeout', String(f.convergeTimeout ?? CONVERGENCE_DEFAULTS.deadlineMs));
  args.push('--converge-interval', String(f.convergeInterval ?? CONVERGENCE_DEFAULTS.intervalMs));
  return args.map(shellQuote).join(' ');
}
