import { randomBytes } from 'node:crypto';
import { relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import type Dockerode from 'dockerode';
import type { HostBackend, Environment, EnvironmentOptions, PeerAuthenticationManifest, Workload, WorkloadConfig, WorkloadKey, WorkloadTarget } from '../../model/index.js';
import { workloadConfig } from '../workload-config.js';
import { BackendError } from '../../util/errors.js';
import { sleep } from '../../util/net.js';
import { escapeControls } from '../../util/terminal-text.js';
import { parseReceipts } from '../app-receipts.js';
import { claimSubnet } from '../common/pick-subnet.js';
import { startGuard, waitReady, whereOf, type ReadyWait, type StartGuard } from '../common/readiness.js';
import { createRunSweep } from '../common/run-sweep.js';
import { ConfigHistory } from '../common/timed-log.js';
import { checkWorkloads, endpointsOf, targetOf, workloadKey } from '../common/workloads.js';
import { dockerEvidence } from './docker-evidence.js';
import { connectDockerEngine, firstLine, type DockerEngine } from './docker-engine.js';
import { CONTAINER_HARNESS_DIR, ensureHarnessImage, imageExists, type HarnessImage } from './harness-image.js';
import { ENV_LABEL, RUN_LABEL, WORKLOAD_LABEL, ownerLabels } from './labels.js';
import { removeByLabels, removeNetwork } from './reap.js';
import { usedSubnets } from './used-subnets.js';

export interface DockerBackendOptions {
  /** The host's harness folder: baked into the built image, or copied into a user-supplied one. */
  readonly harnessDir: string;
  /** A user-supplied image (must have `node` ≥ 20 on PATH); never pulled. Default: the image built from this host's node. */
  readonly image?: string;
  /** Containers started at once (the engine serialises much of the work; more only queues). */
  readonly startConcurrency?: number;
}

/** The docker backend, plus the run-wide label sweep the CLI registers for SIGINT/SIGTERM. */
export interface DockerBackend extends HostBackend {
  /** From now on no environment of `runId` starts (a start in progress stops at its next container). Synchronous, for signal handlers. */
  closeRun(runId: string): void;
  /** closeRun, then removes every container and network labelled with `runId`, after waiting for starts in flight. Idempotent. */
  removeRun(runId: string): Promise<void>;
}

const CONFIG_DIR = '/meshconform/config';
/** What the backend copies in, and what the entrypoint renders from it for the data plane (address, app ports filled in). */
const TEMPLATE_FILE = `${CONFIG_DIR}/workload.json`;
const RENDERED_FILE = '/meshconform/run/workload.json';
const ENTRYPOINT = `${CONTAINER_HARNESS_DIR}/container/entrypoint.mjs`;
/** Where the entrypoint has the echo app write its receipts (harness/container/entrypoint.mjs). */
const RECEIPTS_FILE = '/meshconform/run/echo-receipts.jsonl';
/** Prints the receipts file (the image holds node and nothing else); a missing file is no receipts. */
const PRINT_RECEIPTS = "try{process.stdout.write(require('fs').readFileSync(process.argv[1]))}catch(e){if(e.code!=='ENOENT')throw e}";
const STARTED_LINE = /meshconform-entrypoint: started /;
const EXIT_LINE = /^meshconform-entrypoint: exit (\d+)$/;
const LIMITS = { backend: 'docker', max: 250, maxReason: 'one /24 network', onePerWorkload: 'one container per workload' };
const STOP_TIMEOUT_MS = 5000;

/** One container of an environment: the data plane and the echo app of one workload, side by side. */
interface Slot {
  readonly workload: Workload;
  readonly label: string;
  readonly config: WorkloadConfig;
  /** Every workload.json copied in, with when: the evidence of what the data plane held at a probe. */
  readonly configs: ConfigHistory;
  readonly logs: string[];
  /** Resolves when the log stream ends (the container stopped). */
  readonly logsEnded: Promise<void>;
  endLogs: () => void;
  container?: StartedTestContainer;
  exit?: number;
}

interface StartContext {
  readonly harnessDir: string;
  readonly concurrency: number;
  readonly userImage: boolean;
  readonly closed: () => boolean;
}

/**
 * testcontainers backend: one container per workload running the data plane and the echo app side by side
 * (harness/container/entrypoint.mjs), on a per-environment bridge network with a free /24 of 198.18.0.0/15. The host
 * probes the containers' own addresses on the declared ports. Everything carries `meshconform.run=<run-id>`.
 */
export function createDockerBackend(options: DockerBackendOptions): DockerBackend {
  const harnessDir = resolve(options.harnessDir);
  const concurrency = Math.max(1, options.startConcurrency ?? 8);
  let engineP: Promise<DockerEngine> | undefined;
  let imageP: Promise<HarnessImage> | undefined;
  const sweep = createRunSweep();

  const engine = () => (engineP ??= connectDockerEngine());
  const image = () =>
    (imageP ??= engine().then(async ({ docker }) => {
      if (options.image === undefined) return ensureHarnessImage(docker, harnessDir);
      if (!(await imageExists(docker, options.image))) {
        throw new BackendError(
          `--image ${options.image}: no such image in the Docker engine, and meshconform never pulls. Build or load it first (docker build / docker load), or leave out --image to use the image built from this host's node`,
        );
      }
      return { ref: options.image, built: false, ms: 0 };
    }));
  // A failed engine or image look-up is not cached: the next start reports it again.
  const uncache = <T>(p: Promise<T>, reset: () => void) => p.catch((err) => (reset(), Promise.reject(err)));

  return {
    name: 'docker',
    start: (o) =>
      sweep.start(o.runId, async () => {
        const eng = await uncache(engine(), () => (engineP = undefined));
        const img = await uncache(image(), () => (imageP = undefined));
        return startEnvironment(o, eng, img, { harnessDir, concurrency, userImage: options.image !== undefined, closed: () => sweep.closed(o.runId) });
      }),
    closeRun: (runId) => sweep.closeRun(runId),
    removeRun: (runId) =>
      sweep.removeRun(runId, async () => {
        // No engine was ever reached: nothing was created.
        const docker = await engineP?.then((e) => e.docker).catch(() => undefined);
        if (docker) await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
      }),
  };
}

async function startEnvironment(o: EnvironmentOptions, eng: DockerEngine, img: HarnessImage, ctx: StartContext): Promise<Environment> {
  const where = whereOf(o);
  checkWorkloads(o, where, LIMITS);
  const { docker } = eng;
  const envId = randomBytes(4).toString('hex');
  const labels = { ...ownerLabels(o.runId, envId), 'meshconform.scenario': o.scenario.name.slice(0, 200) };
  const slots = o.scenario.workloads.map((w) => newSlot(w, containerWorkloadConfig(o, w)));
  const guard = startGuard(o, ctx.closed);
  let networkId: string | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(slots.map((s) => s.container?.stop({ timeout: STOP_TIMEOUT_MS, remove: true }).catch(() => undefined)));
      // Whatever a failed start left (a container whose wait failed is not removed by testcontainers), by label.
      await removeByLabels(docker, [`${ENV_LABEL}=${envId}`]);
      const problem = networkId ? await removeNetwork(docker, networkId) : undefined;
      if (problem) throw new BackendError(`${where}: cannot remove network ${networkName(o.runId, envId)}: ${problem}`);
    })());

  try {
    guard.check();
    const net = await createNetwork(docker, networkName(o.runId, envId), labels, where);
    networkId = net.id;
    await startSlots(slots, guard, where, ctx.concurrency, (s, index) => startContainer(s, { o, img, labels, net: net.name, envId, index, ctx }));
    for (const s of slots) watchExit(docker, s);
    const targets = new Map<WorkloadKey, WorkloadTarget>(slots.map((s) => [workloadKey(s.workload), targetOf(s.container!.getIpAddress(net.name), s.workload)]));
    await waitReady(
      slots.map((s) => readyWait(docker, slots, s, targets, where)),
      { timeoutMs: o.readyTimeoutMs, where, signal: o.signal },
    );
    const context = { scenario: o.scenario.name, meshMode: o.meshMode };
    return dockerEnvironment(docker, slots, targets, where, { stopped: () => stopping !== undefined, stop, context });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function newSlot(w: Workload, config: WorkloadConfig): Slot {
  let endLogs = () => {};
  const logsEnded = new Promise<void>((r) => (endLogs = r));
  const configs = new ConfigHistory();
  configs.record(configText(config));
  return { workload: w, label: `container of ${workloadKey(w)}`, config, configs, logs: [], logsEnded, endLogs };
}

/**
 * Starts every container, a few at a time; the first failure (or the guard) stops the rest from being started. When
 * several fail, the first in workload order is reported, whichever failed first.
 */
async function startSlots(
  slots: readonly Slot[],
  guard: StartGuard,
  where: string,
  concurrency: number,
  start: (s: Slot, index: number) => Promise<StartedTestContainer>,
): Promise<void> {
  let next = 0;
  const failures: { index: number; err: unknown }[] = [];
  const worker = async () => {
    while (failures.length === 0 && next < slots.length) {
      const index = next++;
      const s = slots[index]!;
      try {
        guard.check();
        s.container = await start(s, index);
      } catch (err) {
        failures.push({ index, err: await startFailure(s, err, where) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, slots.length) }, worker));
  const [first] = failures.sort((a, b) => a.index - b.index);
  if (first) throw first.err;
}

function readyWait(docker: Dockerode, slots: readonly Slot[], s: Slot, targets: ReadonlyMap<WorkloadKey, WorkloadTarget>, where: string): ReadyWait {
  const address = targets.get(workloadKey(s.workload))!.address;
  return {
    label: s.label,
    endpoints: endpointsOf(address, s.workload),
    exited: () => (s.exit === undefined ? undefined : firstExited(docker, slots, where)),
    tail: () => tail(s),
  };
}

/**
 * The start failure of the first container, in workload order, that has exited: when several die at start, the one
 * named does not depend on which exit the engine reported first (exits not yet reported are read from the engine).
 */
async function firstExited(docker: Dockerode, slots: readonly Slot[], where: string): Promise<Error> {
  await Promise.all(
    slots.map(async (s) => {
      if (s.exit !== undefined || !s.container) return;
      const state = (
        await docker
          .getContainer(s.container.getId())
          .inspect()
          .catch(() => undefined)
      )?.State;
      if (state && !state.Running) s.exit ??= state.ExitCode;
    }),
  );
  const s = slots.find((x) => x.exit !== undefined)!;
  return new BackendError(`${where}: ${s.label} exited at start (exit code ${s.exit})${tail(s)}`);
}

function dockerEnvironment(
  docker: Dockerode,
  slots: readonly Slot[],
  targets: ReadonlyMap<WorkloadKey, WorkloadTarget>,
  where: string,
  life: { stopped: () => boolean; stop: () => Promise<void>; context: { scenario: string; meshMode: string } },
): Environment {
  return {
    targets,
    async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
      if (life.stopped()) throw new BackendError(`${where}: apply policies: the environment is stopped`);
      await Promise.all(
        slots.map(async (s) => {
          s.config.policies = policies.map((p) => structuredClone(p));
          const content = configText(s.config);
          await s.container!.copyContentToContainer([{ content, target: TEMPLATE_FILE, mode: 0o600 }]);
          s.configs.record(content);
          // The entrypoint re-renders the data plane's config atomically and forwards the SIGHUP (the contract).
          await docker.getContainer(s.container!.getId()).kill({ signal: 'SIGHUP' });
        }),
      );
    },
    health: () => slots.filter((s) => s.exit !== undefined).map((s) => `${s.label} exited (exit code ${s.exit})${tail(s)}`),
    async receipts() {
      if (life.stopped()) return [];
      const read = await Promise.all(
        slots.map(async (s) => {
          // A container that cannot be read withholds its receipts: no evidence, never a pass.
          const r = await s.container?.exec(['node', '-e', PRINT_RECEIPTS, RECEIPTS_FILE]).catch(() => undefined);
          return r?.exitCode === 0 ? parseReceipts(r.stdout) : [];
        }),
      );
      return read.flat();
    },
    async evidence(requests, options) {
      // Once stopped the containers are gone, and their logs with them.
      if (life.stopped()) return { cells: new Map(), attachments: [] };
      const containers = slots.map((s) => ({
        key: workloadKey(s.workload),
        label: s.label,
        container: s.container,
        configs: s.configs,
        template: TEMPLATE_FILE,
        rendered: RENDERED_FILE,
      }));
      return dockerEvidence(docker, containers, requests, life.context, options);
    },
    stop: life.stop,
  };
}

interface ContainerContext {
  readonly o: EnvironmentOptions;
  readonly img: HarnessImage;
  readonly labels: Record<string, string>;
  readonly net: string;
  readonly envId: string;
  readonly index: number;
  readonly ctx: StartContext;
}

async function startContainer(s: Slot, c: ContainerContext): Promise<StartedTestContainer> {
  const id = c.o.identities.get(workloadKey(s.workload))!;
  let container = new GenericContainer(c.img.ref)
    .withName(`mc-${c.envId}-${c.index}-${s.workload.name}`.slice(0, 120))
    .withLabels({ ...c.labels, [WORKLOAD_LABEL]: workloadKey(s.workload) })
    .withNetworkMode(c.net)
    .withEnvironment(containerEnv(c.o, c.ctx.harnessDir))
    .withEntrypoint(['node', ENTRYPOINT])
    .withCommand([])
    // Clean-up is ours, by label (no Ryuk, which would need a registry), and nothing is ever pulled.
    .withAutoCleanup(false)
    .withPullPolicy({ shouldPull: () => false })
    .withCopyContentToContainer([
      { content: configText(s.config), target: TEMPLATE_FILE, mode: 0o600 },
      { content: id.certPem, target: `${CONFIG_DIR}/cert.pem`, mode: 0o644 },
      { content: id.keyPem, target: `${CONFIG_DIR}/key.pem`, mode: 0o600 },
      { content: id.caPem, target: `${CONFIG_DIR}/ca.pem`, mode: 0o644 },
      { content: c.o.appTls.certPem, target: `${CONFIG_DIR}/app-cert.pem`, mode: 0o644 },
      { content: c.o.appTls.keyPem, target: `${CONFIG_DIR}/app-key.pem`, mode: 0o600 },
    ])
    .withLogConsumer((stream) => collectLogs(s, stream))
    .withWaitStrategy(Wait.forLogMessage(STARTED_LINE))
    .withStartupTimeout(c.o.readyTimeoutMs);
  // A user image does not have the harness baked in: copy this host's harness folder.
  if (c.ctx.userImage) container = container.withCopyDirectoriesToContainer([{ source: c.ctx.harnessDir, target: CONTAINER_HARNESS_DIR }]);
  return container.start();
}

/** The data plane's own extra environment (DataPlaneSpec.env) reaches it through the entrypoint; nothing is inherited. */
function containerEnv(o: EnvironmentOptions, harnessDir: string): Record<string, string> {
  return {
    ...o.dataPlane.env,
    MESHCONFORM_DATA_PLANE_ARGV: JSON.stringify(containerArgv(o.dataPlane.argv, harnessDir)),
    MESHCONFORM_ECHO_ARGV: JSON.stringify(containerArgv(o.echoArgv, harnessDir)),
  };
}

function collectLogs(s: Slot, stream: Readable): void {
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    // Bounded: 60 lines of at most 1 KiB each, however much a data plane prints.
    for (const line of String(chunk).split('\n')) if (line.trim()) s.logs.push(line.trimEnd().slice(-1024));
    if (s.logs.length > 60) s.logs.splice(0, s.logs.length - 60);
  });
  stream.on('error', () => s.endLogs());
  stream.on('end', () => s.endLogs());
  stream.on('close', () => s.endLogs());
}

/** A bridge network on a free /24 of 198.18.0.0/15; another pick when a concurrent run created one on the same /24 first. */
async function createNetwork(docker: Dockerode, name: string, labels: Record<string, string>, where: string): Promise<{ id: string; name: string }> {
  let id = '';
  const take = async (base: string): Promise<boolean> => {
    const prefix = base.slice(0, base.lastIndexOf('.'));
    try {
      const IPAM = { Config: [{ Subnet: `${base}/24`, Gateway: `${prefix}.1` }] };
      id = (await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, IPAM, Labels: labels })).id;
      return true;
    } catch (err) {
      if (/overlap|already|in use/i.test((err as Error).message)) return false;
      throw new BackendError(`${where}: cannot create Docker network ${name}: ${firstLine(err)}`, { cause: err });
    }
  };
  await claimSubnet({ used: () => usedSubnets(docker), take, where, takenBy: 'routed on this host or used by a Docker network' });
  return { id, name };
}

/**
 * A container that will not come up: the error names it and carries the end of its logs. testcontainers removes a
 * container whose wait failed, so the exit code comes from the entrypoint's last line (`… exit <code>`).
 */
async function startFailure(s: Slot, err: unknown, where: string): Promise<BackendError> {
  if (err instanceof BackendError) return err;
  await Promise.race([s.logsEnded, sleep(2000)]);
  const exitLine = s.logs.findLast((l) => EXIT_LINE.test(l));
  if (exitLine) s.exit = Number(EXIT_LINE.exec(exitLine)![1]);
  const state = s.exit !== undefined ? `exited at start (exit code ${s.exit})` : `did not start: ${firstLine(err)}`;
  const text = tail(s);
  return new BackendError(`${where}: ${s.label} ${state}${text || ' (no output)'}`, { cause: err });
}

function watchExit(docker: Dockerode, s: Slot): void {
  docker
    .getContainer(s.container!.getId())
    .wait()
    .then((r: { StatusCode?: number }) => {
      s.exit = r.StatusCode ?? -1;
    })
    .catch(() => undefined);
}

/** Host argv → argv inside the container: node + a harness file becomes `node /meshconform/harness/<file>`; others run as given. */
export function containerArgv(argv: readonly string[], harnessDir: string): string[] {
  const [file, script, ...rest] = argv;
  if (file === process.execPath && script !== undefined) {
    const rel = relative(harnessDir, resolve(script));
    if (!rel.startsWith('..') && !rel.startsWith(sep)) return ['node', `${CONTAINER_HARNESS_DIR}/${rel.split(sep).join('/')}`, ...rest];
  }
  return [...argv];
}

function containerWorkloadConfig(o: EnvironmentOptions, w: Workload): WorkloadConfig {
  // The address and app ports are only known inside the container: the entrypoint fills them in.
  return workloadConfig(o, w, {
    address: '0.0.0.0',
    appAddress: '0.0.0.0',
    appPorts: {},
    tls: { certFile: `${CONFIG_DIR}/cert.pem`, keyFile: `${CONFIG_DIR}/key.pem`, caFile: `${CONFIG_DIR}/ca.pem` },
  });
}

const configText = (config: WorkloadConfig): string => JSON.stringify(config, null, 2);

function networkName(runId: string, envId: string): string {
  return `meshconform-${runId}-${envId}`.toLowerCase();
}

/** The container's last log lines (not the entrypoint's exit line), control characters escaped. */
function tail(s: Slot): string {
  const text = escapeControls(
    s.logs
      .filter((l) => !EXIT_LINE.test(l))
      .slice(-4)
      .join(' | '),
  );
  return text ? `: ${text}` : '';
}
