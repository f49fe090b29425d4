import { spawnGroup, type GroupProc } from '../process-group.js';

export { STOP_GRACE_MS, describeExit, running, stopGroup as stopProc, tail } from '../process-group.js';

/** A process started inside a network namespace (`ip netns exec` replaces itself with the command: same PID and group). */
export type NsProc = GroupProc;

export function spawnInNetns(
  netns: string,
  label: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options: { readonly stdout?: (chunk: string) => void } = {},
): NsProc {
  return spawnGroup(label, ['ip', 'netns', 'exec', netns, ...argv], env, options.stdout ? { onStdout: options.stdout } : {});
}
