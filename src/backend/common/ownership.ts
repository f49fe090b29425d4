import { hostname } from 'node:os';
import { processStartTime } from '../../util/run-state.js';

/** Who created a run's resources, as their names, labels, annotations or run-state file record it. */
export interface RunOwner {
  /** The meshconform process. */
  readonly pid: number;
  /** Its start time (/proc), where recorded: a live process with that pid but another start time reused the id. */
  readonly pidStart?: number | undefined;
  /** The host it ran on, where resources can outlive it elsewhere (a Docker engine); absent: this host. */
  readonly host?: string | undefined;
}

/**
 * Why `meshconform reap` must keep a run's resources: its process still runs on this host, or another host started
 * it. Undefined when they are left over (this process's own runs included: it is reaping, not running them).
 */
export function stillOwned(owner: RunOwner): string | undefined {
  if (owner.host !== undefined && owner.host !== hostname()) return `started on host ${owner.host} (use --all to remove it anyway)`;
  const { pid } = owner;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  const start = owner.pidStart === undefined ? undefined : processStartTime(pid);
  if (start !== undefined && start !== owner.pidStart) return undefined;
  return `its process ${pid} is still running (use --all to remove it anyway)`;
}
