import { hostname } from 'node:os';
import { BackendError } from '../../util/errors.js';
import type { CommandResult, CommandRunner } from './command-runner.js';
import { HOST_ANNOTATION, KIND_CLUSTER_PREFIX, PID_ANNOTATION, RUN_LABEL } from './labels.js';

export interface KubeReapResult {
  readonly runs: string[];
  readonly namespaces: string[];
  /** Labelled objects in namespaces the harness does not own (root-namespace policies, the cacerts secret). */
  readonly objects: string[];
  readonly kept: { readonly runId: string; readonly why: string }[];
}

/** Namespaced kinds a run may leave in namespaces it does not own. */
const STRAY_KINDS = 'peerauthentications.security.istio.io,secrets,configmaps';

/**
 * `meshconform reap --context <ctx>`: removes what crashed runs left in a cluster, found by `meshconform.run`:
 * their namespaces, and labelled policies and secrets elsewhere. A run whose process still runs on this host, or
 * that another host started, is kept unless `all`.
 */
export async function reapKube(runner: CommandRunner, context: string, o: { readonly runId?: string; readonly all?: boolean } = {}): Promise<KubeReapResult> {
  const selector = o.runId ? `${RUN_LABEL}=${o.runId}` : RUN_LABEL;
  const ns = await check(await runner.run({ argv: ['kubectl', '--context', context, 'get', 'namespaces', '-l', selector, '-o', 'json'] }), context);
  const stray = await check(await runner.run({ argv: ['kubectl', '--context', context, 'get', STRAY_KINDS, '--all-namespaces', '-l', selector, '-o', 'json'] }), context);
  type Item = { kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } };
  const nsItems = (JSON.parse(ns.stdout || '{"items":[]}') as { items?: Item[] }).items ?? [];
  const strayItems = (JSON.parse(stray.stdout || '{"items":[]}') as { items?: Item[] }).items ?? [];
  const owners = new Map<string, Record<string, string>>();
  for (const n of nsItems) owners.set(n.metadata?.labels?.[RUN_LABEL] ?? '', n.metadata?.annotations ?? {});
  for (const s of strayItems) if (!owners.has(s.metadata?.labels?.[RUN_LABEL] ?? '')) owners.set(s.metadata?.labels?.[RUN_LABEL] ?? '', {});
  const result: KubeReapResult = { runs: [], namespaces: [], objects: [], kept: [] };
  for (const [runId, annotations] of [...owners].sort(([a], [b]) => a.localeCompare(b))) {
    const why = o.all ? undefined : stillOwned(annotations);
    if (why) {
      result.kept.push({ runId, why });
      continue;
    }
    const namespaces = nsItems.filter((n) => n.metadata?.labels?.[RUN_LABEL] === runId).map((n) => n.metadata!.name!);
    const inOwned = new Set(namespaces);
    const objects = strayItems.filter((s) => s.metadata?.labels?.[RUN_LABEL] === runId && !inOwned.has(s.metadata?.namespace ?? ''));
    if (objects.length > 0) {
      await check(
        await runner.run({ argv: ['kubectl', '--context', context, 'delete', STRAY_KINDS, '--all-namespaces', '-l', `${RUN_LABEL}=${runId}`, '--ignore-not-found'] }),
        context,
      );
    }
    if (namespaces.length > 0) {
      await check(await runner.run({ argv: ['kubectl', '--context', context, 'delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=false'] }), context);
    }
    result.runs.push(runId);
    result.namespaces.push(...namespaces);
    result.objects.push(...objects.map((s) => `${(s.kind ?? '').toLowerCase()} ${s.metadata?.namespace}/${s.metadata?.name}`));
  }
  return result;
}

/** `meshconform reap --kind`: deletes the kind clusters runs created (`meshconform-*`), including ones kept with --keep. */
export async function reapKindClusters(runner: CommandRunner): Promise<string[]> {
  const list = await runner.run({ argv: ['kind', 'get', 'clusters'] });
  if (list.notFound) throw new BackendError('kind is not on PATH: there are no kind clusters to reap from this machine');
  if (list.exitCode !== 0) throw new BackendError(`kind cannot list clusters: ${list.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const ours = list.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((n) => n.startsWith(KIND_CLUSTER_PREFIX));
  for (const name of ours) {
    const r = await runner.run({ argv: ['kind', 'delete', 'cluster', '--name', name], timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new BackendError(`cannot delete kind cluster ${name}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return ours;
}

async function check(r: CommandResult, context: string): Promise<CommandResult> {
  if (r.notFound) throw new BackendError('kubectl is not on PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/)');
  if (r.exitCode !== 0) {
    const text = r.stderr.trim().split('\n').slice(-3).join(' | ');
    if (/context .* (does not exist|not found)/i.test(text))
      throw new BackendError(`kubeconfig has no context "${context}": pass an existing one with --context (kubectl config get-contexts)`);
    throw new BackendError(`kubectl failed in context ${context}: ${text}`);
  }
  return r;
}

function stillOwned(annotations: Record<string, string>): string | undefined {
  const host = annotations[HOST_ANNOTATION];
  const pid = Number(annotations[PID_ANNOTATION]);
  if (host !== undefined && host !== hostname()) return `started on host ${host} (use --all to remove it anyway)`;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return `its process ${pid} is still running (use --all to remove it anyway)`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? `its process ${pid} is still running (use --all to remove it anyway)` : undefined;
  }
}
