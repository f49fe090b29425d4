import { readdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { sleep } from '../util/net.js';
import { removeKeysFirst } from '../util/private-dir.js';
import { processStartTime, readRunStates, removeRunStateFile, type RunStateFile } from '../util/run-state.js';

export interface HostReapOptions {
  /** Only this run. */
  readonly runId?: string;
  /** Also runs whose meshconform process is still alive. */
  readonly all?: boolean;
}

export interface HostReapResult {
  readonly runs: string[];
  readonly kept: { readonly runId: string; readonly why: string }[];
  /** Process groups that still had members and got SIGKILL. */
  readonly groups: { readonly pgid: number; readonly label: string }[];
  readonly folders: string[];
  readonly problems: string[];
}

/**
 * `meshconform reap` for what runs recorded on this host (src/util/run-state.ts): the process groups they started
 * (every backend's data planes and echo apps that run as host processes) and their temporary folders (keys first).
 * A run whose meshconform process still runs is kept unless `all`.
 */
export async function reapHost(o: HostReapOptions = {}): Promise<HostReapResult> {
  const result: HostReapResult = { runs: [], kept: [], groups: [], folders: [], problems: [] };
  for (const { file, state, problem } of readRunStates()) {
    if (!state) {
      result.problems.push(`unreadable run-state file ${file}: ${problem}`);
      continue;
    }
    const runId = state.runId ?? `pid-${state.pid}`;
    if (o.runId !== undefined && state.runId !== o.runId) continue;
    if (state.pid === process.pid) continue;
    if (!o.all && ownerAlive(state)) {
      result.kept.push({ runId, why: `its process ${state.pid} is still running (use --all to remove it anyway)` });
      continue;
    }
    const killed = killGroups(state);
    result.groups.push(...killed);
    // Bounded wait for the killed to go, so nothing writes into a folder being removed.
    for (let i = 0; i < 50 && killed.some((g) => groupMembers(g.pgid).length > 0); i++) await sleep(100);
    for (const dir of state.dirs ?? []) {
      // Only temporary folders this project names: a damaged state file must not remove anything else.
      if (!isAbsolute(dir) || !basename(dir).startsWith('meshconform-')) {
        result.problems.push(`run ${runId}: not removing ${JSON.stringify(dir)} (not a meshconform temporary folder)`);
        continue;
      }
      try {
        readdirSync(dir);
      } catch {
        continue; // already gone
      }
      await removeKeysFirst(dir);
      result.folders.push(dir);
    }
    removeRunStateFile(file);
    result.runs.push(runId);
  }
  return result;
}

function ownerAlive(s: RunStateFile): boolean {
  const start = processStartTime(s.pid);
  if (start === undefined) return false;
  // The same pid with another start time is another process that reused the id.
  return s.pidStart === undefined || start === s.pidStart;
}

/** SIGKILL to every recorded group that still has members and is still ours (its leader, if alive, is the one we started). */
function killGroups(s: RunStateFile): { pgid: number; label: string }[] {
  const killed: { pgid: number; label: string }[] = [];
  for (const g of s.groups ?? []) {
    if (!Number.isInteger(g.pgid) || g.pgid <= 1) continue;
    const leaderStart = processStartTime(g.pgid);
    // A live process with that id but another start time means the id was reused: not ours.
    if (leaderStart !== undefined && g.leaderStart !== undefined && leaderStart !== g.leaderStart) continue;
    if (groupMembers(g.pgid).length === 0) continue;
    try {
      process.kill(-g.pgid, 'SIGKILL');
      killed.push({ pgid: g.pgid, label: g.label });
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** Processes whose process group is `pgid` (from /proc). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state: a zombie is already dead (its parent has not collected it yet).
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // ended while we looked
    }
  }
  return out;
}
