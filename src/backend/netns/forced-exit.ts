import { execFileSync } from 'node:child_process';

/** What one environment created: its namespaces, and the host interface once it exists. */
export interface Created {
  readonly namespaces: string[];
  hostIf: string | undefined;
}

/**
 * Namespaces and host interfaces of environments not yet stopped: a forced exit (a second Ctrl-C) still deletes
 * them, synchronously, on the way out; their processes get SIGKILL from the process-group exit hook, and a namespace
 * without a name is freed with its veths once they are gone.
 */
const unstopped = new Map<string, Created>();
let exitHook = false;

/** Whether `envId` is taken by an environment of this process not yet stopped. */
export function isUnstopped(envId: string): boolean {
  return unstopped.has(envId);
}

/** Removes what `created` lists on a forced exit, until the returned function is called. */
export function removeOnExit(envId: string, created: Created): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      const lines = [...unstopped.values()].flatMap((e) => [...(e.hostIf ? [`link del ${e.hostIf}`] : []), ...e.namespaces.map((n) => `netns del ${n}`)]);
      if (lines.length === 0) return;
      try {
        execFileSync('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
      } catch {
        // `meshconform reap` removes what is left
      }
    });
  }
  unstopped.set(envId, created);
  return () => unstopped.delete(envId);
}
