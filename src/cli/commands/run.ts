import { Option } from 'commander';
import { argvValue } from '../argv-value.js';
import { loadScenarios } from '../../scenario/index.js';
import { createLocalBackend } from '../../backend/local/index.js';
import { createDockerBackend } from '../../backend/docker/index.js';
import { createNetnsBackend, netnsHostProblem } from '../../backend/netns/index.js';
import { runSuite, newRunId } from '../../run/run-suite.js';
import { resolveDataPlane, echoArgv, harnessFile, parseCapabilities } from '../../run/data-plane.js';
import { checkDefectNames } from '../../run/reference-defects.js';
import { assertSomethingRuns, nothingProbed } from '../../run/nothing-probed.js';
import { pushTeardown, runTeardown } from '../../run/teardown.js';
import { writeOutputs, parseReporters, openReporters, prepareOutRoot, holdExitForReport } from '../../run/outputs.js';
import { interruptTracker, watchInterrupts } from '../../run/interrupt.js';
import { BackendError, EXIT, UsageError } from '../../util/errors.js';
import { installSignalHandlers } from '../../run/teardown.js';
import { recordRunId } from '../../util/run-state.js';
import { createProgress } from '../progress.js';
import { int, type CommandModule } from '../command-context.js';
import { addReportFlags, reportOptionsFrom, type ReportFlags } from '../report-flags.js';
import { addKubeFlags, parseMeshModes, rejectKubeFlags, runKubeCommand, type KubeFlags } from './run-kube.js';
import type { Backend, Claim, RunResult } from '../../model/index.js';
import { CLAIMS } from '../../model/index.js';

const BACKENDS = ['local', 'docker', 'netns', 'kind', 'cluster'] as const;

interface RunFlags extends ReportFlags, KubeFlags {
  backend: (typeof BACKENDS)[number];
  claim: Claim;
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
  defect?: string[];
  image?: string;
  seed?: number;
  capabilities?: string;
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

async function runCommand(paths: string[], flags: RunFlags, out: NodeJS.WritableStream): Promise<number> {
  installSignalHandlers();
  const interrupt = watchInterrupts();
  if (flags.backend === 'kind' || flags.backend === 'cluster') return runKubeCommand(paths, flags, out, exitCodeFor);
  rejectKubeFlags(flags);
  const reporterNames = parseReporters(flags.reporter);
  const reportOptions = await reportOptionsFrom(paths, flags);
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
  const scenarios = await loadScenarios(paths, { ...(flags.grep !== undefined ? { grep: flags.grep } : {}), allowFilesOutside: flags.allowFilesOutside === true });
  if (scenarios.length === 0) throw new UsageError(`no scenarios found in ${paths.join(', ')}${flags.grep ? ` matching --grep ${flags.grep}` : ''}`);
  assertSomethingRuns(scenarios, dataPlane);
  if (flags.image !== undefined && flags.backend !== 'docker') throw new UsageError('--image needs --backend docker');
  await prepareOutRoot(flags.out);
  const runId = newRunId();
  // `reap --run` finds what this run records on the host (process groups, temporary folders) by it.
  recordRunId(runId);
  let backend: Backend;
  let removeRun: (() => void) | undefined;
  let sweep = async () => {};
  let closeOnSignal = () => {};
  if (flags.backend === 'docker') {
    const docker = createDockerBackend({ harnessDir: harnessFile(''), ...(flags.image !== undefined ? { image: flags.image } : {}) });
    // Label sweep of the whole run, registered before anything exists: Ctrl-C or SIGTERM mid-start leaves nothing.
    sweep = () => docker.removeRun(runId);
    removeRun = pushTeardown(`docker resources of run ${runId}`, sweep);
    // The sweep runs last of the teardowns; no new scenario may start containers meanwhile.
    closeOnSignal = () => docker.closeRun(runId);
    process.once('SIGINT', closeOnSignal).once('SIGTERM', closeOnSignal);
    backend = docker;
  } else if (flags.backend === 'netns') {
    const problem = await netnsHostProblem();
    if (problem) throw new BackendError(problem);
    const netns = createNetnsBackend();
    // Like docker's label sweep: every namespace named with the run id goes, even one a start was creating.
    sweep = () => netns.removeRun(runId);
    removeRun = pushTeardown(`network namespaces of run ${runId}`, sweep);
    closeOnSignal = () => netns.closeRun(runId);
    process.once('SIGINT', closeOnSignal).once('SIGTERM', closeOnSignal);
    backend = netns;
  } else {
    backend = createLocalBackend(flags.localSubnet !== undefined ? { subnet: flags.localSubnet } : {});
  }
  const progress = createProgress(out);
  const reporter = openReporters(reporterNames, out, reportOptions);
  // An interrupt waits (bounded) for the partial report; cells judged after the interrupt become errors.
  const hold = holdExitForReport(`report of run ${runId}`);
  const tracker = interruptTracker(interrupt);
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
      claim: flags.claim,
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      hooks: {
        onRunStart: (e) => (progress.hooks.onRunStart?.(e), void reporter.onRunStart?.(e)),
        onScenarioStart: (e) => void reporter.onScenarioStart?.(e),
        onCellResult: (c) => void reporter.onCellResult?.(c),
        onScenarioEnd: (r) => (tracker.ended(r), progress.hooks.onScenarioEnd?.(r), void reporter.onScenarioEnd?.(r)),
      },
      interrupt,
    });
  } catch (err) {
    hold.release();
    throw err;
  } finally {
    progress.stop();
    process.off('SIGINT', closeOnSignal).off('SIGTERM', closeOnSignal);
    if (removeRun) await runTeardown(removeRun, sweep);
  }
  try {
    result = tracker.finish(result);
    await writeOutputs(result, reporter, flags.out, { interrupt });
  } finally {
    hold.release();
  }
  // A run that probed nothing is not a success (every cell skipped, e.g. none the data plane can express).
  const none = nothingProbed(result);
  if (none !== undefined && result.lintErrors === 0) throw new UsageError(none);
  return exitCodeFor(result);
}

export const runCommandModule: CommandModule = (program, { out, setExitCode }) => {
  const run = program
    .command('run')
    .description('run scenarios against a data plane and compare what was observed with what the policies mean')
    .argument('[paths...]', 'scenario files or folders', ['scenarios/'])
    .addOption(new Option('--backend <name>', 'environment the workloads run in').choices(BACKENDS).default('local'))
    .option(
      '--data-plane <spec>',
      'system under test: "reference" (sidecar; ambient scenarios on reference-ambient), "reference-ambient", "haproxy" or "exec:<command>" (the data-plane contract)',
      'reference',
    )
    .addOption(claimOption())
    .option('--workloads-per-process <n>', 'workloads served by one data-plane process (needs MESHCONFORM_WORKLOAD_CONFIGS support)', int('--workloads-per-process', 1, 10000), 1)
    .option(
      '--capabilities <list>',
      'optional contract parts an exec: data plane implements: clock-offset, tls-reload, policy-reload, multi-workload (default none); chaos scenarios needing others are skipped',
    )
    .option('--reporter <list>', 'comma-separated reporters: console, json, junit, html, conformance', 'console,json,junit,html')
    .option('--out <dir>', 'folder for reports/<run-id>/ and reports/latest/', 'reports')
    .option('--grep <regex>', 'only scenarios whose name or feature matches')
    .option('--allow-files-outside', 'let { file: … } policy references name files outside the scenario folder tree')
    .option('--retries <n>', 'extra attempts for a cell that did not match (a later match is "flaky")', int('--retries', 0, 10), 1)
    .option('--concurrency <n>', 'probes in flight at once', int('--concurrency', 1, 1024), 32)
    .option('--timeout <ms>', 'per-probe deadline', int('--timeout', 50, 120000), 3000)
    .option('--ready-timeout <ms>', 'deadline for a data plane to accept TCP on every port', int('--ready-timeout', 100, 600000), 15000)
    .option('--parallel <n>', 'scenarios whose environments run at the same time', int('--parallel', 1, 64), 4)
    .option('--image <ref>', "docker backend: workload image to use instead of the one built from this host's node (never pulled)", argvValue('--image'))
    .option('--seed <n>', "seed of every chaos scenario's fault schedule (replays a run: the seed is in report.json)", int('--seed', 0, 4294967295))
    .option('--local-subnet <a.b>', 'loopback /16 for workload addresses on the local backend, e.g. 127.77 (random by default)')
    .option('--defect <name>', 'plant a defect in the reference data plane (repeatable; see `meshconform mutate --list`)', (v: string, prev: string[] | undefined) => [
      ...(prev ?? []),
      v,
    ]);
  addReportFlags(addKubeFlags(run)).action(async (paths: string[], flags: RunFlags) => {
    setExitCode(await runCommand(paths, flags, out));
  });
};
