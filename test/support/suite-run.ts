// One `meshconform run` of scenario folders through the real CLI, its report.json read back (for tests that judge a
// whole data plane on the built-in suite).
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellResult, RunResult } from '../../src/model/index.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

/** The static sidecar scenarios of the built-in suite (`both` scenarios run their sidecar half; ambient-only ones are skipped). No chaos. */
export const STATIC_SUITE = ['core', 'port-level', 'precedence', 'protocols', 'selectors', 'ambient'].map((d) => join(root, 'scenarios', d));

export interface SuiteRun {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly result: RunResult;
}

/** `meshconform run <args> --out <temp> --reporter json`, the report read back and the temp folder removed. */
export async function runSuite(args: readonly string[], env: Record<string, string> = {}): Promise<SuiteRun> {
  const out = mkdtempSync(join(tmpdir(), 'mc-suite-out-'));
  try {
    const r = await execa(process.execPath, [bin, 'run', ...args, '--out', out, '--reporter', 'json'], {
      cwd: root,
      reject: false,
      env: { ...env, NO_COLOR: '1' },
      timeout: 500_000,
    });
    const result = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    return { exitCode: r.exitCode, stderr: r.stderr, result };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export const cellsOf = (r: RunResult): CellResult[] => r.scenarios.flatMap((s) => s.cells);
