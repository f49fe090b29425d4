import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadScenarios } from '../scenario/index.js';
import { explain } from '../oracle/index.js';
import { lintExpectations } from '../oracle/index.js';
import { createLocalBackend } from '../backend/local/index.js';
import { runSuite } from '../run/run-suite.js';
import { resolveDataPlane, echoArgv } from '../run/data-plane.js';
import { writeOutputs, parseReporters, openReporters } from '../run/outputs.js';
import { drainTeardowns } from '../run/teardown.js';
import { HARNESS_VERSION } from '../run/version.js';
import { newRunId } from '../run/run-suite.js';
import { EXIT, MeshconformError, UsageError } from '../util/errors.js';
import { createProgress } from './progress.js';
import type { Backend, RunResult } from '../model/index.js';

const BACKENDS = ['local'] as const;

function int(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
    return n;
  };
}

interface RunFlags {
  backend: (typeof BACKENDS)[number];
  dataPlane: string;
  workloadsPerProcess: number;
  reporter: string;
  out: string;
  grep?: string;
  retries: number;
  concurrency: number;
  timeout: number;
  readyTimeout: number;
  parallel: number;
  localSubnet?: string;
}

export function exitCodeFor(result: RunResult): number {
  if (result.summary.errors > 0) return EXIT.usage;
  if (result.summary.failed > 0 || result.lintErrors > 0) return EXIT.mismatch;
  return EXIT.ok;
}

async function runCommand(paths: string[], flags: RunFlags, out: NodeJS.WritableStream): Promise<number> {
  const reporterNames = parseReporters(flags.reporter);
  const dataPlane = resolveDataPlane(flags.dataPlane, flags.workloadsPerProcess);
  const scenarios = await loadScenarios(paths, flags.grep !== undefined ? { grep: flags.grep } : {});
  if (scenarios.length === 0) throw new UsageError(`no scenarios found in ${paths.join(', ')}${flags.grep ? ` matching --grep ${flags.grep}` : ''}`);
  const backend: Backend = createLocalBackend(flags.localSubnet !== undefined ? { subnet: flags.localSubnet } : {});
  const runId = newRunId();
  const progress = createProgress(out);
  const reporter = openReporters(reporterNames, out);
  let result: RunResult;
  try {
    result = await runSuite({
      scenarios,
      paths,
      ...(flags.grep !== undefined ? { grep: flags.grep } : {}),
      backend,
      dataPlane,
      echoArgv: echoArgv(),
      retries: flags.retries,
      concurrency: flags.concurrency,
      timeoutMs: flags.timeout,
      readyTimeoutMs: flags.readyTimeout,
      parallelScenarios: flags.parallel,
      runId,
      hooks: {
        onRunStart: (e) => (progress.hooks.onRunStart?.(e), void reporter.onRunStart?.(e)),
        onScenarioStart: (e) => void reporter.onScenarioStart?.(e),
        onCellResult: (c) => void reporter.onCellResult?.(c),
        onScenarioEnd: (r) => (progress.hooks.onScenarioEnd?.(r), void reporter.onScenarioEnd?.(r)),
      },
    });
  } finally {
    progress.stop();
  }
  await writeOutputs(result, reporter, flags.out);
  return exitCodeFor(result);
}

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('meshconform')
    .description('Conformance harness and chaos tester for service-mesh mTLS (Istio PeerAuthentication)')
    .version(HARNESS_VERSION)
    .exitOverride()
    .showHelpAfterError('(run meshconform --help for usage)')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });

  program
    .command('run')
    .description('run scenarios against a data plane and compare what was observed with what the policies mean')
    .argument('[paths...]', 'scenario files or folders', ['scenarios/'])
    .addOption(new Option('--backend <name>', 'environment the workloads run in').choices(BACKENDS).default('local'))
    .option('--data-plane <spec>', 'system under test: "reference" or "exec:<command>" (the data-plane contract)', 'reference')
    .option('--workloads-per-process <n>', 'workloads served by one data-plane process (needs MESHCONFORM_WORKLOAD_CONFIGS support)', int('--workloads-per-process', 1, 10000), 1)
    .option('--reporter <list>', 'comma-separated reporters: console, json, junit', 'console,json,junit')
    .option('--out <dir>', 'folder for reports/<run-id>/ and reports/latest/', 'reports')
    .option('--grep <regex>', 'only scenarios whose name or feature matches')
    .option('--retries <n>', 'extra attempts for a cell that did not match (a later match is "flaky")', int('--retries', 0, 10), 1)
    .option('--concurrency <n>', 'probes in flight at once', int('--concurrency', 1, 1024), 32)
    .option('--timeout <ms>', 'per-probe deadline', int('--timeout', 50, 120000), 3000)
    .option('--ready-timeout <ms>', 'deadline for a data plane to accept TCP on every port', int('--ready-timeout', 100, 600000), 15000)
    .option('--parallel <n>', 'scenarios whose environments run at the same time', int('--parallel', 1, 64), 2)
    .option('--local-subnet <a.b>', 'loopback /16 for workload addresses on the local backend, e.g. 127.77 (random by default)')
    .action(async (paths: string[], flags: RunFlags) => {
      code = await runCommand(paths, flags, out);
    });

  program
    .command('explain')
    .description('print the effective mTLS mode of every workload and port, and the policies that decided it')
    .argument('<files...>', 'scenario files or folders')
    .option('--json', 'machine-readable output')
    .action(async (files: string[], flags: { json?: boolean }) => {
      const scenarios = await loadScenarios(files);
      const entries = explain(scenarios);
      if (flags.json) {
        out.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      let last = '';
      for (const e of entries) {
        if (e.scenario !== last) out.write(`${last ? '\n' : ''}${e.scenario}\n`);
        last = e.scenario;
        const where = e.port === null ? `${e.workload} (workload)` : `${e.workload}:${e.port}`;
        const why = e.decidedBy.length === 0 ? 'no policy applies: PERMISSIVE by default' : e.decidedBy.map((d) => `${d.level} ${d.namespace}/${d.name}`).join(' → ');
        out.write(`  ${where.padEnd(36)} ${e.mode.padEnd(10)} ${why}\n`);
      }
    });

  program
    .command('validate')
    .description('load and lint scenarios without running anything')
    .argument('<files...>', 'scenario files or folders')
    .action(async (files: string[]) => {
      const scenarios = await loadScenarios(files);
      let lintCount = 0;
      for (const s of scenarios) {
        for (const w of s.warnings) err.write(`${w.source.file}:${w.source.line}:${w.source.column}: warning: ${w.message}\n`);
        const modes = s.mode === 'both' ? (['sidecar'] as const) : s.mode === 'sidecar' ? (['sidecar'] as const) : ([] as const);
        for (const m of modes) {
          for (const f of lintExpectations(s, m)) {
            lintCount++;
            err.write(`${f.file}:${f.line}:${f.column}: lint: ${f.message}\n`);
          }
        }
      }
      out.write(`${scenarios.length} scenario(s) valid${lintCount ? `, ${lintCount} lint error(s)` : ''}\n`);
      code = lintCount > 0 ? EXIT.mismatch : EXIT.ok;
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    await drainTeardowns();
    if (e instanceof MeshconformError) {
      err.write(`meshconform: ${e.message}\n`);
    } else {
      err.write(`meshconform: internal error: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.MESHCONFORM_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
    }
    return EXIT.usage;
  }
  await drainTeardowns();
  return code;
}
