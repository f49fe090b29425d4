import { createExecaRunner, reapKindClusters, reapKube } from '../../backend/kube/index.js';
import { UsageError } from '../../util/errors.js';

/** `meshconform reap --context <ctx>` and `--kind`: what kind and cluster runs left behind. */
export async function reapKubeLeftovers(
  flags: { readonly context?: string; readonly kind?: boolean; readonly backend?: string },
  scope: { readonly runId?: string; readonly all: boolean },
  out: NodeJS.WritableStream,
): Promise<void> {
  if (flags.backend !== undefined) throw new UsageError('--backend names a local backend (docker, netns); leave it out with --context or --kind');
  const runner = createExecaRunner();
  if (flags.context !== undefined) {
    const r = await reapKube(runner, flags.context, scope);
    for (const k of r.kept) out.write(`${flags.context}: kept run ${k.runId}: ${k.why}\n`);
    if (r.runs.length === 0) {
      out.write(`${flags.context}: nothing to reap${r.kept.length > 0 ? ` (${r.kept.length} live run(s) kept)` : ''}\n`);
    } else {
      out.write(`${flags.context}: reaped ${r.runs.length} run(s): ${r.namespaces.length} namespace(s), ${r.objects.length} other object(s)\n`);
      for (const n of r.namespaces) out.write(`  namespace ${n}\n`);
      for (const o of r.objects) out.write(`  ${o}\n`);
    }
  }
  if (flags.kind) {
    if (scope.runId !== undefined) throw new UsageError('--kind deletes every meshconform-* kind cluster; it does not take --run');
    const deleted = await reapKindClusters(runner);
    out.write(deleted.length === 0 ? 'kind: no meshconform-* cluster\n' : `kind: deleted ${deleted.length} cluster(s): ${deleted.join(', ')}\n`);
  }
}
