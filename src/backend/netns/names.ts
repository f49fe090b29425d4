import { BackendError } from '../../util/errors.js';

/** Every namespace a run creates starts with this; `meshconform reap` finds leftovers by it. */
export const NETNS_PREFIX = 'meshconform-';
/** Host (root namespace) end of an environment's uplink veth; its alias names the hub namespace. */
export const HOST_IF_PREFIX = 'mcn-';

/** What a namespace name says: the run, the process that owns it, the environment and its role. */
export interface NetnsName {
  readonly runId: string;
  readonly pid: number;
  readonly envId: string;
  /** `hub` (the bridge) or `w<index>` (one workload). */
  readonly role: string;
}

/** Names of one environment's namespaces and host interface. */
export interface EnvNames {
  readonly envId: string;
  readonly hub: string;
  readonly hostIf: string;
  workload(index: number): string;
}

const NAME_RE = /^meshconform-(.+)-p(\d+)-([0-9a-f]{6})-(hub|w\d+)$/;
const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/;

/**
 * `meshconform-<runId>-p<pid>-<envId>-hub` and `…-w<n>`: the owner PID lets `reap` keep a live run; the host end of
 * the uplink is `mcn-<envId>` (an interface name has at most 15 characters).
 */
export function envNames(runId: string, envId: string, pid = process.pid): EnvNames {
  if (!RUN_ID_RE.test(runId)) throw new BackendError(`run id ${JSON.stringify(runId)} cannot name a network namespace (letters, digits, '.', '_', '-' only)`);
  if (!/^[0-9a-f]{6}$/.test(envId)) throw new BackendError(`invalid environment id ${JSON.stringify(envId)}`);
  const base = `${NETNS_PREFIX}${runId}-p${pid}-${envId}`;
  return { envId, hub: `${base}-hub`, hostIf: `${HOST_IF_PREFIX}${envId}`, workload: (i) => `${base}-w${i}` };
}

export function parseNetnsName(name: string): NetnsName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  return { runId: m[1]!, pid: Number(m[2]), envId: m[3]!, role: m[4]! };
}
