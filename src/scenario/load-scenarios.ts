import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Scenario } from '../model/index.js';
import { UsageError, formatPos } from '../util/errors.js';
import { Diagnostics } from './diagnostics.js';
import { loadScenarioSource } from './load-scenario-file.js';

export interface LoadScenariosOptions {
  /** Regular expression matched against each scenario's name and feature; only matches are returned. */
  readonly grep?: string;
  /**
   * `{ file: … }` policy references may name files outside the scenario folder tree (the folder given, or the folder
   * of a scenario file given); off by default (`--allow-files-outside`).
   */
  readonly allowFilesOutside?: boolean;
}

/** Directory walks stop here: deeper trees are almost certainly a symlink maze, not a suite. */
const MAX_DEPTH = 32;

/**
 * Load scenarios from files and folders (walked recursively, in sorted order, for *.yaml / *.yml). In a folder,
 * YAML files that are not `kind: Scenario` (referenced policy files, profiles) are skipped; a file named explicitly
 * must be a Scenario. All problems of all files end in one ScenarioError; never a partial result.
 */
export async function loadScenarios(paths: readonly string[], opts: LoadScenariosOptions = {}): Promise<Scenario[]> {
  const grep = compileGrep(opts.grep);
  if (paths.length === 0) throw new UsageError('no scenario paths given: name scenario files or folders');
  const diags = new Diagnostics();

  // Each file once, even when named explicitly and also found in a folder; explicit wins.
  const files = new Map<string, { file: string; explicit: boolean; root: string }>();
  const addFile = async (file: string, explicit: boolean, root: string): Promise<void> => {
    const real = await realpath(file).catch(() => file);
    const known = files.get(real);
    if (known) known.explicit ||= explicit;
    else files.set(real, { file, explicit, root });
  };

  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      diags.add({ file: p, message: code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(err as Error).message}` });
      continue;
    }
    if (isDir) for (const f of await walk(p, diags)) await addFile(f, false, p);
    else await addFile(p, true, dirname(p));
  }

  const scenarios: Scenario[] = [];
  for (const { file, explicit, root } of files.values()) {
    const s = await loadScenarioSource(file, explicit, diags, opts.allowFilesOutside ? {} : { root });
    if (typeof s === 'object') scenarios.push(s);
  }

  const byName = new Map<string, Scenario>();
  for (const s of scenarios) {
    const first = byName.get(s.name);
    if (first) {
      diags.add({ file: s.file, pos: s.source, message: `duplicate scenario name ${JSON.stringify(s.name)}: also defined in ${formatPos(first.source)}` });
    } else {
      byName.set(s.name, s);
    }
  }

  if (diags.count > 0) throw diags.toError();
  return grep ? scenarios.filter((s) => grep.test(s.name) || grep.test(s.feature)) : scenarios;
}

function compileGrep(grep: string | undefined): RegExp | undefined {
  if (grep === undefined) return undefined;
  try {
    return new RegExp(grep);
  } catch (err) {
    throw new UsageError(`--grep ${JSON.stringify(grep)} is not a valid regular expression: ${(err as Error).message}`, { cause: err });
  }
}

/** YAML files under `dir`, sorted by code point at every level so runs are deterministic on every platform. */
async function walk(dir: string, diags: Diagnostics): Promise<string[]> {
  const out: string[] = [];
  const visited = new Set<string>();
  const visit = async (d: string, depth: number): Promise<void> => {
    const real = await realpath(d);
    if (visited.has(real) || depth > MAX_DEPTH) return; // a symlink cycle
    visited.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      diags.add({ file: d, message: `cannot read directory: ${(err as Error).message}` });
      return;
    }
    const names = entries.map((e) => e.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const full = join(d, name);
      const st = await stat(full).catch(() => undefined); // follows symlinks; a dangling one is skipped
      if (st?.isDirectory()) await visit(full, depth + 1);
      else if (st?.isFile() && /\.ya?ml$/i.test(name)) out.push(full);
      // A FIFO, socket or device named like a scenario is never opened (it could block), and never silently dropped.
      else if (st && /\.ya?ml$/i.test(name)) diags.add({ file: full, message: 'is not a regular file' });
    }
  };
  await visit(dir, 0);
  return out;
}
