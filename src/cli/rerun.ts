import type { Command } from 'commander';
import type { RunResult } from '../model/index.js';
import { readRunResultFile } from '../report/index.js';
import { UsageError } from '../util/errors.js';
import { honours, type BackendName } from './backend-flags.js';

/** Flags that shape only the report or this invocation: never recorded, never carried into a rerun. */
const NOT_RECORDED = new Set([
  'reporter',
  'out',
  'grep',
  'baseline',
  'profiles',
  'implOptions',
  'implName',
  'implVersion',
  'implOrganization',
  'implUrl',
  'implContact',
  'onlyCell',
  'rerunFailed',
  'dryRun',
]);

const dashed = (attr: string) => attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

type FlagValue = string | number | boolean | readonly string[];

/** The run's flags worth repeating (`options.flags`), by long name, defaults included. */
export function recordedFlags(flags: Record<string, unknown>): Record<string, FlagValue> {
  const out: Record<string, FlagValue> = {};
  const backend = flags.backend as BackendName;
  for (const [attr, v] of Object.entries(flags)) {
    // A default of a flag this backend cannot honour (e.g. --retries on kind) says nothing about the run.
    if (NOT_RECORDED.has(attr) || v === undefined || !honours(backend, attr)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[dashed(attr)] = v as FlagValue;
  }
  return out;
}

const wanted = (verdict: string) => verdict === 'fail' || verdict === 'flaky' || verdict === 'error';

/**
 * What `--rerun-failed <report.json>` reruns: exactly the failing, flaky and error cells of that run, from their
 * scenario files (unless paths are given), with that run's flags except those given on this command line.
 */
export async function rerunFrom(
  file: string,
  cmd: Command,
  flags: Record<string, unknown>,
): Promise<{ paths: string[] | undefined; onlyCells: Set<string>; seeds: Map<string, number>; from: RunResult }> {
  const from = await readRunResultFile(file);
  const cells = from.scenarios.flatMap((s) => s.cells.filter((c) => wanted(c.verdict)).map((c) => ({ key: c.key, file: s.file })));
  if (cells.length === 0) throw new UsageError(`--rerun-failed ${file}: run ${from.runId} has no failing, flaky or error cell: nothing to rerun`);
  const recorded = Object.entries(from.options.flags ?? {}).map(([name, value]) => [camel(name), value] as const);
  const backend = (cmd.getOptionValueSource('backend') === 'cli' ? flags.backend : (recorded.find(([a]) => a === 'backend')?.[1] ?? flags.backend)) as BackendName;
  for (const [attr, value] of recorded) {
    // A flag of the earlier run's backend that this run's backend cannot honour stays behind.
    if (NOT_RECORDED.has(attr) || cmd.getOptionValueSource(attr) === 'cli' || !honours(backend, attr)) continue;
    flags[attr] = Array.isArray(value) ? [...value] : value;
  }
  // A chaos scenario replays the schedule it failed under (its seed, picked at random unless the run gave one).
  const seeds = new Map(from.scenarios.flatMap((s) => (s.timeline?.seed !== undefined && s.cells.some((c) => wanted(c.verdict)) ? [[s.name, s.timeline.seed] as const] : [])));
  return { paths: cmd.args.length > 0 ? undefined : [...new Set(cells.map((c) => c.file))], onlyCells: new Set(cells.map((c) => c.key)), seeds, from };
}
