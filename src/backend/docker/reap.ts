import type Dockerode from 'dockerode';
import { sleep } from '../../util/net.js';
import { BackendError } from '../../util/errors.js';
import { HOST_LABEL, PID_LABEL, RUN_LABEL } from './labels.js';
import { stillOwned } from '../common/ownership.js';

export interface Removed {
  readonly containers: string[];
  readonly networks: string[];
}

/**
 * Removes every container, then every network, matching all `labels` (`key=value` or `key`). Containers are killed
 * and removed in one call; a network that still reports active endpoints right after is retried briefly.
 */
export async function removeByLabels(docker: Dockerode, labels: readonly string[]): Promise<Removed> {
  const filters = JSON.stringify({ label: labels });
  const containers = await docker.listContainers({ all: true, filters });
  const problems: string[] = [];
  await Promise.all(
    containers.map(async (c) => {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
      } catch (err) {
        if (!isGone(err)) problems.push(`container ${name(c.Names)}: ${(err as Error).message}`);
      }
    }),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(
    networks.map(async (n) => {
      const problem = await removeNetwork(docker, n.Id);
      if (problem) problems.push(`network ${n.Name}: ${problem}`);
    }),
  );
  if (problems.length > 0) throw new BackendError(`could not remove everything labelled ${labels.join(',')}: ${problems.join('; ')}`);
  return { containers: containers.map((c) => name(c.Names)), networks: networks.map((n) => n.Name) };
}

/** Removes a network; retries "has active endpoints" for a moment after its containers went. Resolves to a problem or undefined. */
export async function removeNetwork(docker: Dockerode, id: string): Promise<string | undefined> {
  let last = '';
  for (let i = 0; i < 30; i++) {
    try {
      await docker.getNetwork(id).remove();
      return undefined;
    } catch (err) {
      if (isGone(err)) return undefined;
      last = (err as Error).message;
      if (!/active endpoints/i.test(last)) return last;
      await sleep(100);
    }
  }
  return last;
}

export interface ReapOptions {
  /** Only this run. */
  readonly runId?: string;
  /** Also runs whose owner process is still alive on this host, or that another host started. */
  readonly all?: boolean;
}

export interface ReapResult extends Removed {
  /** Runs left in place, with why. */
  readonly kept: { readonly runId: string; readonly why: string }[];
  readonly runs: string[];
}

/** `meshconform reap`: removes what crashed runs left behind, found by the `meshconform.run` label. */
export async function reapLeftovers(docker: Dockerode, o: ReapOptions = {}): Promise<ReapResult> {
  const filter = JSON.stringify({ label: [o.runId ? `${RUN_LABEL}=${o.runId}` : RUN_LABEL] });
  const owners = new Map<string, Record<string, string>>();
  for (const c of await docker.listContainers({ all: true, filters: filter })) owners.set(c.Labels[RUN_LABEL] ?? '', c.Labels);
  for (const n of await docker.listNetworks({ filters: filter })) if (!owners.has(n.Labels?.[RUN_LABEL] ?? '')) owners.set(n.Labels?.[RUN_LABEL] ?? '', n.Labels ?? {});
  const result: ReapResult = { containers: [], networks: [], kept: [], runs: [] };
  for (const [runId, labels] of [...owners].sort(([a], [b]) => a.localeCompare(b))) {
    const why = o.all ? undefined : stillOwned({ pid: Number(labels[PID_LABEL]), host: labels[HOST_LABEL] });
    if (why) {
      result.kept.push({ runId, why });
      continue;
    }
    const removed = await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
    result.runs.push(runId);
    result.containers.push(...removed.containers);
    result.networks.push(...removed.networks);
  }
  return result;
}

function isGone(err: unknown): boolean {
  const code = (err as { statusCode?: number }).statusCode;
  return code === 404 || (code === 409 && /already in progress/i.test((err as Error).message));
}

function name(names: readonly string[] | undefined): string {
  return (names?.[0] ?? '?').replace(/^\//, '');
}
