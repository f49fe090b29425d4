import { UsageError } from '../util/errors.js';

export type BackendName = 'local' | 'docker' | 'netns' | 'kind' | 'cluster';

const HOST: readonly BackendName[] = ['local', 'docker', 'netns'];
const KUBE: readonly BackendName[] = ['kind', 'cluster'];

/** A flag only some backends can honour, and why the others cannot. */
interface FlagRule {
  /** commander's attribute name of the flag. */
  readonly attr: string;
  readonly backends: readonly BackendName[];
  readonly why: string;
  /** The flag as typed, where it is not `--<attr>` (a negated flag). */
  readonly flag?: string;
}

const kindOnly = (attr: string): FlagRule => ({ attr, backends: ['kind'], why: 'it configures the kind cluster and the Istio the run installs' });
const clusterOnly = (attr: string): FlagRule => ({ attr, backends: ['cluster'], why: 'it describes an existing cluster and its mesh' });
const kubeOnly = (attr: string): FlagRule => ({ attr, backends: KUBE, why: 'it configures Kubernetes runs' });

/** Every per-backend flag: given to a backend that cannot honour it, it is refused (exit 2), never silently ignored. */
const RULES: readonly FlagRule[] = [
  { attr: 'dataPlane', backends: HOST, why: "on kind and cluster the data plane under test is the cluster's mesh (leave out --data-plane)" },
  { attr: 'workloadsPerProcess', backends: HOST, why: 'kind and cluster run one pod per workload' },
  { attr: 'capabilities', backends: HOST, why: 'it declares what an exec: data plane implements' },
  { attr: 'meshModes', backends: [...HOST, 'cluster'], why: 'kind serves the modes of its --istio-profile' },
  { attr: 'defect', backends: HOST, why: 'it plants defects in the reference data plane; kind and cluster test a real mesh' },
  { attr: 'retries', backends: HOST, why: 'kind and cluster settle cells by convergence (--converge-successes, --converge-timeout)' },
  { attr: 'readyTimeout', backends: HOST, why: 'kind and cluster wait for pods with --pod-ready-timeout' },
  { attr: 'parallel', backends: HOST, why: 'kind and cluster run one scenario at a time (policies are cluster-wide)' },
  { attr: 'seed', backends: ['local', 'netns'], why: 'it seeds chaos schedules, and only local and netns have chaos controls' },
  { attr: 'localSubnet', backends: ['local'], why: 'only the local backend puts workloads on loopback addresses' },
  { attr: 'reuse', flag: '--no-reuse', backends: HOST, why: 'kind and cluster run pods, whose processes the harness never reuses' },
  { attr: 'image', backends: ['docker', 'kind', 'cluster'], why: "local and netns run this host's node" },
  ...['kindCluster', 'keep', 'istioProfile', 'istioVersion', 'kindNodeImage', 'installTimeout'].map(kindOnly),
  ...['context', 'meshCa', 'injectionLabel', 'rootNamespace', 'allowMeshPolicies'].map(clusterOnly),
  ...['convergeSuccesses', 'convergeTimeout', 'convergeInterval', 'podReadyTimeout', 'dryRun'].map(kubeOnly),
];

export const flagName = (attr: string): string => `--${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Refuses every flag the user gave that `backend` cannot honour, naming each with the reason. */
export function checkFlagsFor(backend: BackendName, given: (attr: string) => boolean): void {
  const wrong = RULES.filter((r) => !r.backends.includes(backend) && given(r.attr));
  if (wrong.length === 0) return;
  const parts = wrong.map((r) => `${r.flag ?? flagName(r.attr)} is not for --backend ${backend}: ${r.why} (it is for --backend ${r.backends.join(', ')})`);
  throw new UsageError(parts.join('; '));
}

/** Whether `backend` honours the flag `attr` (flags without a rule apply to every backend). */
export function honours(backend: BackendName, attr: string): boolean {
  const rule = RULES.find((r) => r.attr === attr);
  return rule === undefined || rule.backends.includes(backend);
}
