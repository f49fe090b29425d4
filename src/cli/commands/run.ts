import { Option, type Command } from 'commander';
import { argvValue } from '../argv-value.js';
import { loadScenarios } from '../../scenario/index.js';
import { createLocalBackend } from '../../backend/local/index.js';
import { createNetnsBackend, netnsHostProblem } from '../../backend/netns/index.js';
import { hostBackend } from '../../backend/host-session.js';
import { runSuite, newRunId, type RunOptions } from '../../run/pipeline.js';
import { resolveDataPlane, echoArgv, harnessFile, parseCapabilities } from '../../run/data-plane.js';
import { checkDefectNames } from '../../run/reference-defects.js';
import { assertSomethingRuns, nothingProbed } from '../../run/nothing-probed.js';
import { writeOutputs, parseReporters, openReporters, prepareOutRoot, holdExitForReport } from '../../run/outputs.js';
import { interruptTracker } from '../../run/interrupt.js';
import { interruptSignal, scope } from '../../run/lifecycle.js';
import { HARNESS_VERSION } from '../../run/version.js';
import { BackendError, EXIT, UsageError } from '../../util/errors.js';
import { recordRunId } from '../../util/run-state.js';
import { createProgress } from '../progress.js';
import { int, type CommandModule } from '../command-context.js';
import { addReportFlags, reportOptionsFrom, type ReportFlags } from '../report-flags.js';
import { addKubeFlags, kubeBackendFrom, kubeReproduce, parseMeshModes, type KubeFlags } from '../kube-flags.js';
import type { Claim, Backend, RunResult, Scenario } from '../../model/index.js';
import { CLAIMS } from '../../model/index.js';
import { checkFlagsFor, type BackendName } from '../backend-flags.js';
import { recordedFlags, rerunFrom } from '../rerun.js';

const BACKENDS = ['local', 'docker', 'netns', 'kind', 'cluster'] as const;

interface RunFlags extends ReportFlags, KubeFlags {
  backend: BackendName;
  claim: Claim;
  dataPlane: string;
  workloadsPerProcess?: number;
  reporter: string;
  out: string;
  grep?: string;
  retries: number;
  concurrency: number;
  timeout: number;
  readyTimeout: number;
  parallel: number;
  localSubnet?: string;
  reuse: boolean;
  defect?: string[];
  image?: string;
  seed?: number;
  capabilities?: string;
  meshModes?: string;
  onlyCell?: string[];
  rerunFailed?: string;
}

/**
 * `--claim spec|istio`: what a pass claims. `spec` accepts every outcome PeerAuthentication requires (docs/outcomes.md);
 * `istio` accepts only Istio's reference outcome, for data planes claiming Istio compatibility.
 */
export function claimOption(): Option {
  return new Option('--claim <claim>', 'what a pass claims: "spec" (the outcomes PeerAuthentication requires) or "istio" (exactly what Istio\'s Envoy or ztunnel does)')
    .choices(CLAIMS)
    .default('spec');
}

/** 1 when the mesh (or a scenario's own expectation) is wrong, even if some cells also erred; 2 for errors alone. */
export function exitCodeFor(result: RunResult): number {
  // Whatever was judged before it, an interrupted run proved nothing as a whole.
  if (result.interrupted) return result.interrupted.signal === 'SIGINT' ? 130 : 143;
  if (result.summary.failed > 0 || result.lintErrors > 0) return EXIT.mismatch;
  if (result.summary.errors > 0) return EXIT.usage;
  return EXIT.ok;
}

/** What the run needs from the chosen backend: the strategy, the system under test, and how cells settle. */
type BackendChoice = Pick<RunOptions, 'backend' | 'dataPlane' | 'retries' | 'convergence' | 'log'> & { readonly reproduce?: string; readonly dryRun?: boolean };

async function hostChoice(flags: RunFlags): Promise<BackendChoice> {
  if (flags.defect !== undefined && flags.dataPlane !== 'reference') {
    throw new UsageError(`--defect plants a defect in the reference data plane: it needs --data-plane reference, not ${JSON.stringify(flags.dataPlane)}`);
  }
  // It presents a sibling workload's certificate: one container per workload has none, so it would silently not be planted.
  if (flags.defect?.includes('wrong-server-identity') && flags.backend !== 'local') {
    throw new UsageError("--defect wrong-server-identity needs --backend local (it presents another workload's certificate from the shared config folder)");
  }
  const dataPlane = resolveDataPlane(
    flags.dataPlane,
    flags.workloadsPerProcess,
    await checkDefectNames(flags.defect ?? []),
    flags.meshModes !== undefined ? parseMeshModes(flags.meshModes) : undefined,
    flags.capabilities !== undefined ? parseCapabilities(flags.capabilities) : undefined,
  );
  let backend: Backend;
  if (flags.backend === 'docker') {
    // Loaded only here: testcontainers alone adds ~0.2 s to the start of every run.
    const { createDockerBackend } = await import('../../backend/docker/index.js');
    backend = hostBackend(createDockerBackend({ harnessDir: harnessFile(''), ...(flags.image !== undefined ? { image: flags.image } : {}) }));
  } else if (flags.backend === 'netns') {
    const problem = await netnsHostProblem();
    if (problem) throw new BackendError(problem);
    backend = hostBackend(createNetnsBackend());
  } else {
    backend = hostBackend(createLocalBackend(flags.localSubnet !== undefined ? { subnet: flags.localSubnet } : {}));
  }
  return { backend, dataPlane, retries: flags.retries };
}

async function kubeChoice(paths: string[], flags: RunFlags, out: NodeJS.WritableStream, interrupt: AbortSignal): Promise<BackendChoice> {
  const k = await kubeBackendFrom(flags, { out, interrupt, scope: scope() });
  return { backend: k.backend, dataPlane: k.dataPlane, convergence: k.convergence, log: k.log, reproduce: kubeReproduce(paths, flags), dryRun: k.backend.dryRun };
}

async function loadRunScenarios(paths: string[], flags: RunFlags): Promise<Scenario[]> {
  const scenarios = await loadScenarios(paths, { ...(flags.grep !== undefined ? { grep: flags.grep } : {}), allowFilesOutside: flags.allowFilesOutside === true });
  if (scenarios.length === 0) throw new UsageError(`no scenarios found in ${paths.join(', ')}${flags.grep ? ` matching --grep ${flags.grep}` : ''}`);
  return scenarios;
}

async function runCommand(givenPaths: string[], flags: RunFlags, cmd: Command, out: NodeJS.WritableStream): Promise<number> {
  const interrupt = interruptSignal();
  let paths = givenPaths;
  let onlyCells = flags.onlyCell ? new Set(flags.onlyCell) : undefined;
  let seeds: Map<string, number> | undefined;
  if (flags.rerunFailed !== undefined) {
    const rerun = await rerunFrom(flags.rerunFailed, cmd, flags as unknown as Record<string, unknown>);
    paths = rerun.paths ?? paths;
    onlyCells = new Set([...(onlyCells ?? []), ...rerun.onlyCells]);
    // A --seed given here replays every chaos scenario with it instead.
    if (cmd.getOptionValueSource('seed') !== 'cli') seeds = rerun.seeds;
  }
  checkFlagsFor(flags.backend, (name) => cmd.getOptionValueSource(name) === 'cli');
  const kube = flags.backend === 'kind' || flags.backend === 'cluster';
  const reporterNames = parseReporters(flags.reporter);
  const choice = kube ? await kubeChoice(paths, flags, out, interrupt) : await hostChoice(flags);
  const reporterOptions = { ...(await reportOptionsFrom(paths, flags)), ...(choice.reproduce !== undefined ? { reproduce: choice.reproduce } : {}) };
  const scenarios = await loadRunScenarios(paths, flags);
  if (!kube) assertSomethingRuns(scenarios, choice.dataPlane);
  const dryRun = choice.dryRun === true;
  if (!dryRun) await prepareOutRoot(flags.out);
  const runId = newRunId();
  // `reap --run` finds what this run records on the host (process groups, temporary folders) by it.
  if (!kube) recordRunId(runId);
  if (dryRun) out.write(`# meshconform ${HARNESS_VERSION}: plan of run ${runId} on --backend ${flags.backend} (--dry-run: nothing is executed)\n`);
  const progress = dryRun ? undefined : createProgress(out);
  const reporter = dryRun ? undefined : openReporters(reporterNames, out, reporterOptions);
  // An interrupt waits (bounded) for the partial report; cells judged after the interrupt become errors.
  const hold = reporter ? holdExitForReport(`report of run ${runId}`) : undefined;
  const tracker = interruptTracker(interrupt);
  let result: RunResult;
  try {
    result = await runSuite({
      scenarios,
      paths,
      ...(flags.grep !== undefined ? { grep: flags.grep } : {}),
      ...choice,
      echoArgv: echoArgv(),
      concurrency: flags.concurrency,
      timeoutMs: flags.timeout,
      readyTimeoutMs: flags.readyTimeout,
      parallelScenarios: flags.parallel,
      reuse: flags.reuse,
      runId,
      claim: flags.claim,
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      ...(onlyCells ? { onlyCells } : {}),
      ...(seeds && seeds.size > 0 ? { seeds } : {}),
      flags: recordedFlags(flags as unknown as Record<string, unknown>),
      ...(progress && reporter
        ? {
            hooks: {
              onRunStart: (e) => (progress.hooks.onRunStart?.(e), void reporter.onRunStart?.(e)),
              onScenarioStart: (e) => void reporter.onScenarioStart?.(e),
              onCellResult: (c) => void reporter.onCellResult?.(c),
              onScenarioEnd: (r) => (tracker.ended(r), progress.hooks.onScenarioEnd?.(r), void reporter.onScenarioEnd?.(r)),
            },
          }
        : {}),
      interrupt,
    });
  } catch (err) {
    hold?.release();
    throw err;
  } finally {
    progress?.stop();
  }
  if (!reporter) return EXIT.ok;
  try {
    result = tracker.finish(result);
    await writeOutputs(result, reporter, flags.out, { interrupt });
  } finally {
    hold?.release();
  }
  // A run that probed nothing is not a success (every cell skipped, e.g. none the data plane can express).
  const none = kube ? undefined : nothingProbed(result);
  if (none !== undefined && result.lintErrors === 0) throw new UsageError(none);
  return exitCodeFor(result);
}

function addHostFlags(run: Command): Command {
  return run
    .optionsGroup('Local, netns and docker backends (the harness starts the data plane; cells settle by retries):')
    .option(
      '--data-plane <spec>',
      'system under test: "reference" (sidecar; ambient scenarios on reference-ambient), "reference-ambient", "haproxy" or "exec:<command>" (the data-plane contract)',
      'reference',
    )
    .option(
      '--workloads-per-process <n>',
      'workloads served by one data-plane process (needs MESHCONFORM_WORKLOAD_CONFIGS support); default 1, except that a reused data plane serves every workload of a static scenario on the local backend',
      int('--workloads-per-process', 1, 10000),
    )
    .option(
      '--capabilities <list>',
      'optional contract parts an exec: data plane implements: clock-offset, tls-reload, policy-reload, multi-workload, reuse (default none); chaos scenarios needing others are skipped',
    )
    .option(
      '--mesh-modes <list>',
      'mesh modes the system under test implements, "sidecar", "ambient" or "sidecar,ambient" (default sidecar): an exec: data plane, or the installed mesh (cluster backend); scenarios of other modes are skipped',
    )
    .option('--defect <name>', 'plant a defect in the reference data plane (repeatable; see `meshconform mutate --list`)', (v: string, prev: string[] | undefined) => [
      ...(prev ?? []),
      v,
    ])
    .option('--retries <n>', 'extra attempts for a cell that did not match (a later match is "flaky")', int('--retries', 0, 10), 1)
    .option('--ready-timeout <ms>', 'deadline for a data plane to accept TCP on every port', int('--ready-timeout', 100, 600000), 15000)
    .option('--parallel <n>', 'scenarios whose environments run at the same time (chaos scenarios after the static ones)', int('--parallel', 1, 64), 4)
    .option('--seed <n>', "seed of every chaos scenario's fault schedule (replays a run: the seed is in report.json)", int('--seed', 0, 4294967295))
    .option('--local-subnet <a.b>', 'local backend: loopback /16 for workload addresses, e.g. 127.77 (random by default)')
    .option(
      '--no-reuse',
      "start every static scenario's data planes and echo apps afresh (by default the local backend reuses a reference data plane's processes between scenarios through its SIGHUP reload; an exec: data plane only with --capabilities reuse)",
    )
    .option(
      '--image <ref>',
      "docker, kind and cluster backends: workload image to use instead of the one built from this host's node (never pulled on docker)",
      argvValue('--image'),
    );
}

export const runCommandModule: CommandModule = (program, { out, setExitCode }) => {
  const run = program
    .command('run')
    .description('run scenarios against a data plane and compare what was observed with what the policies mean')
    .argument('[paths...]', 'scenario files or folders', ['scenarios/'])
    .addOption(new Option('--backend <name>', 'environment the workloads run in').choices(BACKENDS).default('local'))
    .addOption(claimOption())
    .option('--reporter <list>', 'comma-separated reporters: console, json, junit, html, conformance', 'console,json,junit,html')
    .option('--out <dir>', 'folder for reports/<run-id>/ and reports/latest/', 'reports')
    .option('--grep <regex>', 'only scenarios whose name or feature matches')
    .option('--allow-files-outside', 'let { file: … } policy references name files outside the scenario folder tree')
    .option('--concurrency <n>', 'probes in flight at once', int('--concurrency', 1, 1024), 32)
    .option('--timeout <ms>', 'per-probe deadline', int('--timeout', 50, 120000), 3000)
    .option(
      '--only-cell <key>',
      'run only this cell (repeatable); keys as in report.json and the HTML report: scenario|mode|namespace/workload|port|client',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--rerun-failed <report.json>', "rerun exactly the failing, flaky and error cells of an earlier run, with that run's options unless given here");
  addHostFlags(run);
  addKubeFlags(run);
  run.optionsGroup('Reports:');
  addReportFlags(run).action(async (paths: string[], flags: RunFlags, cmd: Command) => {
    setExitCode(await runCommand(paths, flags, cmd, out));
  });
};
