import { BackendError } from '../../util/errors.js';
import { sleep } from '../../util/net.js';
import { stillOwned } from '../common/ownership.js';
import { hostLinks, ip, listNetns, netnsPids } from './ip.js';
import { HOST_IF_PREFIX, parseNetnsName, type NetnsName } from './names.js';

export interface NetnsRemoved {
  readonly namespaces: string[];
  readonly interfaces: string[];
  /** Processes that were still running inside the namespaces and got SIGKILL. */
  readonly processes: number;
}

/**
 * Removes namespaces and host interfaces: first SIGKILL to every process still inside (a data plane's own children,
 * or everything of a crashed run), then the host ends of the uplinks, then the namespaces (their veths, bridge and
 * iptables rules go with them). Rejects naming what could not be removed, after trying everything.
 */
export async function removeNetns(namespaces: readonly string[], interfaces: readonly string[]): Promise<NetnsRemoved> {
  const problems: string[] = [];
  let processes = 0;
  // A namespace whose processes live on is not freed by `ip netns del` (only unnamed): kill them first.
  for (let round = 0; round < 50; round++) {
    const pids = (await Promise.all(namespaces.map(netnsPids))).flat();
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        if (round === 0) processes++;
      } catch {
        // already gone
      }
    }
    await sleep(100);
    if (round === 49) problems.push(`processes ${pids.join(', ')} did not exit`);
  }
  const links = new Set((await hostLinks()).map((l) => l.name));
  await Promise.all(
    interfaces
      .filter((n) => links.has(n))
      .map((n) =>
        ip(['link', 'del', n]).catch(async (err: Error) => {
          if ((await hostLinks()).some((l) => l.name === n)) problems.push(err.message);
        }),
      ),
  );
  await Promise.all(
    namespaces.map((n) =>
      ip(['netns', 'del', n]).catch(async (err: Error) => {
        if ((await listNetns()).includes(n)) problems.push(err.message);
      }),
    ),
  );
  if (problems.length > 0) throw new BackendError(`could not remove every network namespace and interface: ${problems.join('; ')}`);
  return { namespaces: [...namespaces], interfaces: interfaces.filter((n) => links.has(n)), processes };
}

/** Namespaces and host interfaces of the runs `select` picks, by run id. */
export async function findNetns(select: (n: NetnsName) => boolean): Promise<Map<string, { owner: NetnsName; namespaces: string[]; interfaces: string[] }>> {
  const runs = new Map<string, { owner: NetnsName; namespaces: string[]; interfaces: string[] }>();
  const entry = (n: NetnsName) => {
    let e = runs.get(n.runId);
    if (!e) runs.set(n.runId, (e = { owner: n, namespaces: [], interfaces: [] }));
    return e;
  };
  for (const name of await listNetns()) {
    const n = parseNetnsName(name);
    if (n && select(n)) entry(n).namespaces.push(name);
  }
  // The host end's alias is its hub namespace's name; an interface without such an alias is never ours to touch.
  for (const l of await hostLinks()) {
    const n = l.name.startsWith(HOST_IF_PREFIX) && l.alias ? parseNetnsName(l.alias) : undefined;
    if (n && select(n) && l.name === `${HOST_IF_PREFIX}${n.envId}`) entry(n).interfaces.push(l.name);
  }
  return runs;
}

/** Everything of one run (the run-wide sweep on interrupt). */
export async function removeRunNetns(runId: string): Promise<NetnsRemoved> {
  const run = (await findNetns((n) => n.runId === runId)).get(runId);
  if (!run) return { namespaces: [], interfaces: [], processes: 0 };
  return removeNetns(run.namespaces, run.interfaces);
}

export interface NetnsReapOptions {
  /** Only this run. */
  readonly runId?: string;
  /** Also runs whose owner process is still alive. */
  readonly all?: boolean;
}

export interface NetnsReapResult extends NetnsRemoved {
  readonly runs: string[];
  readonly kept: { readonly runId: string; readonly why: string }[];
}

/** `meshconform reap` for the netns backend: removes what crashed runs left, keeps runs whose process still runs. */
export async function reapNetns(o: NetnsReapOptions = {}): Promise<NetnsReapResult> {
  const found = await findNetns((n) => o.runId === undefined || n.runId === o.runId);
  const result = { runs: [] as string[], kept: [] as { runId: string; why: string }[], namespaces: [] as string[], interfaces: [] as string[], processes: 0 };
  for (const [runId, run] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
    const why = o.all ? undefined : stillOwned({ pid: run.owner.pid });
    if (why) {
      result.kept.push({ runId, why });
      continue;
    }
    const removed = await removeNetns(run.namespaces, run.interfaces);
    result.runs.push(runId);
    result.namespaces.push(...removed.namespaces);
    result.interfaces.push(...removed.interfaces);
    result.processes += removed.processes;
  }
  return result;
}
