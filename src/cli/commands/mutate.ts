import { Option } from 'commander';
import { setMaxListeners } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CellResult, Claim, RunResult } from '../../model/index.js';
import { loadScenarios } from '../../scenario/index.js';
import { mutate, subnetsNeeded, type DefectResult, type MutationResult } from '../../run/mutate.js';
import { checkDefectNames, defectName, referenceDefects } from '../../run/reference-defects.js';
import { interruptSignal, watchSignals } from '../../run/lifecycle.js';
import { newRunId } from '../../run/pipeline.js';
import { EXIT, UsageError } from '../../util/errors.js';
import { int, type CommandModule } from '../command-context.js';
import { claimOption } from './run.js';

interface MutateFlags {
  claim: Claim;
  defect?: string[];
  list?: boolean;
  json?: boolean;
  out?: string;
  grep?: string;
  parallelDefects: number;
  parallel: number;
  workloadsPerProcess: number;
  retries: number;
  concurrency: number;
  timeout: number;
  readyTimeout: number;
  localSubnet?: string;
  allFailures?: boolean;
  failFast?: boolean;
}

/** How many failing cells are named per caught defect. */
const EXAMPLES = 3;
/**
 * Default defect runs at a time. On 2 cores the built-in suite took 93 s with 2, 79–81 s with 3 and 77–79 s with 4:
 * 4 bought nothing over 3 but more memory and more processes starving each other's probes.
 */
const PARALLEL_DEFECTS = 3;

export function mutationExitCode(r: MutationResult): number {
  if (r.baselineProblem !== undefined || r.defects.some((d) => d.status === 'error')) return EXIT.usage;
  return r.defects.some((d) => d.status === 'survived') ? EXIT.mismatch : EXIT.ok;
}

function firstSubnet(flag: string | undefined, runs: number): number {
  if (flag === undefined) return 64 + Math.floor(Math.random() * (254 - 64 - runs + 2));
  const m = /^127\.(\d{1,3})$/.exec(flag);
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 1 && n + runs - 1 <= 254)) {
    throw new UsageError(`--local-subnet ${JSON.stringify(flag)}: expected 127.<n> with room for ${runs} consecutive /16s (n from 1 to ${255 - runs})`);
  }
  return n;
}

/** A few failing cells, from different scenarios where possible. */
function examples(cells: readonly CellResult[]): CellResult[] {
  const out: CellResult[] = [];
  const scenarios = new Set<string>();
  for (const c of cells) if (out.length < EXAMPLES && !scenarios.has(c.scenario)) scenarios.add(c.scenario), out.push(c);
  for (const c of cells) if (out.length < EXAMPLES && !out.includes(c)) out.push(c);
  return out;
}

function describeCell(c: CellResult, claim: Claim): string {
  const observed = c.observedOutcome ?? c.observed?.status ?? '?';
  // Same outcome class but a failing cell: the evidence was wrong (server identity, misroute), as `allow*` in reports.
  const accepted = claim === 'spec' ? (c.expected.required ?? [c.expected.outcome]) : [c.expected.outcome];
  const what = accepted.includes(observed as never) ? `${observed}* with wrong evidence` : observed;
  return `${c.scenario} ${c.workload}:${c.port} ${c.client} (expected ${c.expected.outcome}${accepted.length > 1 ? ` or ${accepted.filter((o) => o !== c.expected.outcome).join(' or ')}` : ''}, observed ${what})`;
}

/** Whether a caught defect's cells are every failing cell of the suite or those found before its run stopped. */
function completeness(d: DefectResult): string {
  return d.complete ? 'complete list' : 'run stopped at the first failing cell; --all-failures lists every one';
}

/** The defect's line; with `all`, every failing cell on a line of its own below it. */
function defectLines(d: DefectResult, all: boolean): string {
  const head = `${d.status.padEnd(8)} ${d.defect.name.padEnd(38)}`;
  const secs = `${(d.durationMs / 1000).toFixed(1)} s`;
  const claim = d.run?.claim ?? 'spec';
  switch (d.status) {
    case 'caught':
      if (all) return [`${head} ${d.caughtBy.length} cell(s) in ${secs} (${completeness(d)}):`, ...d.caughtBy.map((c) => `    ${describeCell(c, claim)}`)].join('\n');
      return `${head} ${d.complete ? '' : '≥'}${d.caughtBy.length} cell(s) in ${secs} (${completeness(d)}), e.g. ${examples(d.caughtBy)
        .map((c) => describeCell(c, claim))
        .join('; ')}`;
    case 'survived':
      return `${head} no cell failed in ${secs}: add a scenario that fails when ${d.defect.description}`;
    case 'error':
      return `${head} harness error, not counted as caught: ${d.error ?? 'unknown'}`;
  }
}

function summaryJson(r: MutationResult, claim: Claim): unknown {
  return {
    claim,
    score: { caught: r.caught, planted: r.planted },
    durationMs: r.durationMs,
    baseline: { runId: r.baseline.runId, summary: r.baseline.summary, lintErrors: r.baseline.lintErrors, ...(r.baselineProblem ? { problem: r.baselineProblem } : {}) },
    defects: r.defects.map((d) => ({
      name: d.defect.name,
      layer: d.defect.layer,
      claims: d.defect.claims,
      description: d.defect.description,
      status: d.status,
      caughtBy: d.caughtBy.length,
      // false: the run stopped at its first failing cell, and `failingCells` holds those of the scenarios that ran.
      complete: d.complete,
      examples: examples(d.caughtBy).map((c) => c.key),
      failingCells: d.caughtBy.map((c) => c.key),
      ...(d.error !== undefined ? { error: d.error } : {}),
      durationMs: d.durationMs,
      ...(d.run ? { runId: d.run.runId } : {}),
    })),
  };
}

/** `--out`: `<out>/mutate-<id>/`, created before the runs so an unusable folder fails at once, not after minutes. */
async function createOutDir(outRoot: string): Promise<string> {
  const dir = join(outRoot, `mutate-${newRunId()}`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--out ${outRoot}: cannot create ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return dir;
}

/** The summary plus every run's RunResult (file names are fixed or catalogue names, which are [a-z0-9-]). */
async function writeMutationFiles(r: MutationResult, claim: Claim, dir: string): Promise<string> {
  const write = (name: string, value: unknown) => writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await write('mutation.json', summaryJson(r, claim));
  await write('baseline.report.json', r.baseline);
  for (const d of r.defects) if (d.run) await write(`${d.defect.name}.report.json`, d.run satisfies RunResult);
  return dir;
}

/** The result as JSON, or the text summary (each defect's line was printed as its run ended). */
function printResult(result: MutationResult, flags: MutateFlags, files: string | undefined, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void {
  if (flags.json) {
    out.write(`${JSON.stringify({ ...(summaryJson(result, flags.claim) as object), ...(files ? { files } : {}) }, null, 2)}\n`);
  } else if (result.baselineProblem !== undefined) {
    err.write(
      `meshconform: the suite does not pass on the reference data plane without defects (${result.baselineProblem}); run \`meshconform run\` on it first: defects can only be judged against a passing baseline\n`,
    );
  } else {
    const survivors = result.defects.filter((d) => d.status === 'survived').map((d) => d.defect.name);
    const errors = result.defects.filter((d) => d.status === 'error').map((d) => d.defect.name);
    const pct = result.planted > 0 ? Math.floor((100 * result.caught) / result.planted) : 100;
    out.write(`mutation score: ${result.caught}/${result.planted} defects caught (${pct} %) under --claim ${flags.claim} in ${(result.durationMs / 1000).toFixed(1)} s\n`);
    if (survivors.length > 0) out.write(`survived: ${survivors.join(', ')} (each needs a scenario that fails when it is planted)\n`);
    if (errors.length > 0) out.write(`not judged (harness error): ${errors.join(', ')}\n`);
    if (files) out.write(`reports in ${files}\n`);
  }
}

export const mutateCommand: CommandModule = (program, { out, err, setExitCode }) => {
  program
    .command('mutate')
    .description('mutation testing: run the suite against the reference data plane with each planted defect; every defect must be caught')
    .argument('[paths...]', 'scenario files or folders', ['scenarios/'])
    .addOption(claimOption())
    .option('--defect <name>', 'only this defect (repeatable; default: every static defect of the --claim)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--list', 'list the defects the reference data plane can plant, then exit')
    .option('--json', 'print the result as JSON instead of text')
    .option('--out <dir>', "also write mutation.json and every run's report.json under <dir>/mutate-<id>/ (default: no files)")
    .option('--grep <regex>', 'only scenarios whose name or feature matches')
    .option('--parallel-defects <n>', 'defect runs at the same time, each on its own loopback /16', int('--parallel-defects', 1, 32), PARALLEL_DEFECTS)
    .option('--parallel <n>', 'scenarios of one run whose environments run at the same time', int('--parallel', 1, 64), 4)
    .option('--workloads-per-process <n>', 'workloads one reference data-plane process serves', int('--workloads-per-process', 1, 10000), 1)
    .option('--retries <n>', 'extra attempts for a mismatching cell (a cell that matches on a retry does not catch)', int('--retries', 0, 10), 0)
    .option('--concurrency <n>', 'probes in flight per run', int('--concurrency', 1, 1024), 32)
    .option('--timeout <ms>', 'per-probe deadline', int('--timeout', 50, 120000), 3000)
    .option('--ready-timeout <ms>', 'deadline for a data plane to accept TCP on every port', int('--ready-timeout', 100, 600000), 15000)
    .option('--all-failures', "run each defect's whole suite and list every failing cell (default: a defect's run stops at its first failing cell)")
    // The default since stopping early became it; still accepted because scripts and CI pass it.
    .addOption(new Option('--fail-fast', 'stop each defect run at its first failing cell (the default)').hideHelp())
    .option('--local-subnet <a.b>', 'loopback /16 of the baseline run, e.g. 127.100; defect runs take the following ones (random by default)')
    .action(async (paths: string[], flags: MutateFlags) => {
      if (flags.allFailures && flags.failFast) throw new UsageError('--all-failures and --fail-fast contradict each other: choose one');
      const catalogue = await referenceDefects();
      if (flags.list) {
        if (flags.json) out.write(`${JSON.stringify(catalogue, null, 2)}\n`);
        else for (const d of catalogue) out.write(`${d.name.padEnd(38)} ${d.layer.padEnd(10)} ${d.kind.padEnd(6)} ${d.claims.join(',').padEnd(10)} ${d.description}\n`);
        return;
      }
      // Chaos defects only show under faults: by default only the static ones are planted (name them to plant others).
      // Only the defects of the claim: under `spec` a data plane may do what Istio's HTTP codec does not (docs/outcomes.md).
      const ofClaim = catalogue.filter((d) => d.claims.includes(flags.claim));
      const chosen = flags.defect !== undefined ? (await checkDefectNames(flags.defect)).map(defectName) : ofClaim.filter((d) => d.kind === 'static').map((d) => d.name);
      const notOfClaim = chosen.filter((n) => !ofClaim.some((d) => d.name === n));
      if (notOfClaim.length > 0) {
        throw new UsageError(
          `--defect ${notOfClaim.join(', ')}: not a defect under --claim ${flags.claim} (it breaks only --claim ${catalogue.find((d) => d.name === notOfClaim[0])!.claims.join(', ')}); see \`meshconform mutate --list\``,
        );
      }
      const defects = catalogue.filter((d) => chosen.includes(d.name));
      const subnet = firstSubnet(flags.localSubnet, subnetsNeeded(defects.length));
      const scenarios = await loadScenarios(paths, flags.grep !== undefined ? { grep: flags.grep } : {});
      if (scenarios.length === 0) throw new UsageError(`no scenarios found in ${paths.join(', ')}${flags.grep ? ` matching --grep ${flags.grep}` : ''}`);
      const outDir = flags.out !== undefined ? await createOutDir(flags.out) : undefined;
      watchSignals();
      // Every environment starting at once listens on the interrupt: up to two workers per scenario slot (static and
      // chaos) in each defect run. More than that would be a leak worth the warning.
      setMaxListeners(Math.max(10, 2 * flags.parallel * flags.parallelDefects + 10), interruptSignal());
      const text = !flags.json;
      if (text)
        out.write(
          `meshconform mutate: ${defects.length} defect(s) of --claim ${flags.claim} against ${scenarios.length} scenario(s), ${flags.parallelDefects} at a time, ` +
            `${flags.allFailures ? 'each run through the whole suite (every failing cell)' : 'each run stopping at its first failing cell (--all-failures: every one)'}\n`,
        );
      const result = await mutate({
        scenarios,
        paths,
        defects,
        claim: flags.claim,
        parallelDefects: flags.parallelDefects,
        firstSubnet: subnet,
        retries: flags.retries,
        concurrency: flags.concurrency,
        timeoutMs: flags.timeout,
        readyTimeoutMs: flags.readyTimeout,
        parallelScenarios: flags.parallel,
        workloadsPerProcess: flags.workloadsPerProcess,
        allFailures: flags.allFailures === true,
        onBaselineEnd: (b) => {
          if (!text) return;
          const s = b.summary;
          out.write(
            `baseline (no defect): ${s.passed}/${s.cells} cells passed, ${s.failed} failed, ${s.errors} errors, ${b.lintErrors} lint errors in ${(b.durationMs / 1000).toFixed(1)} s\n`,
          );
        },
        onDefectEnd: (d) => {
          if (text) out.write(`${defectLines(d, flags.allFailures === true)}\n`);
        },
      });
      const files = outDir !== undefined ? await writeMutationFiles(result, flags.claim, outDir) : undefined;
      printResult(result, flags, files, out, err);
      setExitCode(mutationExitCode(result));
    });
};
