import { randomBytes } from 'node:crypto';
import { relative, resolve, sep } from 'node:path';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import type Dockerode from 'dockerode';
import type { Backend, Environment, EnvironmentOptions, PeerAuthenticationManifest, Workload, WorkloadConfig, WorkloadKey, WorkloadTarget } from '../../model/index.js';
import { workloadConfig } from '../workload-config.js';
import { BackendError } from '../../util/errors.js';
import { sleep, tcpAccepts } from '../../util/net.js';
import { connectDockerEngine, firstLine, type DockerEngine } from './docker-engine.js';
import { CONTAINER_HARNESS_DIR, ensureHarnessImage, imageExists, type HarnessImage } from './harness-image.js';
import { ENV_LABEL, RUN_LABEL, WORKLOAD_LABEL, ownerLabels } from './labels.js';
import { freeSubnets } from './pick-subnet.js';
import { removeByLabels, removeNetwork } from './reap.js';
import { escapeControls } from '../../util/terminal-text.js';
import { parseReceipts } from '../app-receipts.js';

export interface DockerBackendOptions {
  /** The host's harness folder: baked into the built image, or copied into a user-supplied one. */
  readonly harnessDir: string;
  /** A user-supplied image (must have `node` ≥ 20 on PATH); never pulled. Default: the image built from this host's node. */
  readonly image?: string;
  /** Containers started at once (the engine serialises much of the work; more only queues). */
  readonly startConcurrency?: number;
}

/** The docker backend, plus the run-wide label sweep the CLI registers for SIGINT/SIGTERM. */
export interface DockerBackend extends Backend {
  /** From now on no environment of `runId` starts (a start in progress stops at its next container). Synchronous, for signal handlers. */
  closeRun(runId: string): void;
  /** closeRun, then removes every container and network labelled with `runId`, after waiting for starts in flight. Idempotent. */
  removeRun(runId: string): Promise<void>;
}

const CONFIG_DIR = '/meshconform/config';
const ENTRYPOINT = `${CONTAINER_HARNESS_DIR}/container/entrypoint.mjs`;
/** Where the entrypoint has the echo app write its receipts (harness/container/entrypoint.mjs). */
const RECEIPTS_FILE = '/meshconform/run/echo-receipts.jsonl';
/** Prints the receipts file (the image holds node and nothing else); a missing file is no receipts. */
const PRINT_RECEIPTS = "try{process.stdout.write(require('fs').readFileSync(process.argv[1]))}catch(e){if(e.code!=='ENOENT')throw e}";
const STARTED_LINE = /meshconform-entrypoint: started /;
const EXIT_LINE = /^meshconform-entrypoint: exit (\d+)$/;
const MAX_WORKLOADS = 250;
const STOP_TIMEOUT_MS = 5000;
interface Box {
  readonly workload: Workload;
  readonly label: string;
  readonly config: WorkloadConfig;
  readonly logs: string[];
  /** Resolves when the log stream ends (the container stopped). */
  readonly logsEnded: Promise<void>;
  endLogs: () => void;
  container?: StartedTestContainer;
  exit?: number;
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
  const closing = new Set<string>();
  const inflight = new Map<string, Set<Promise<unknown>>>();

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

  const track = <T>(runId: string, p: Promise<T>): Promise<T> => {
    const set = inflight.get(runId) ?? new Set();
    inflight.set(runId, set);
    set.add(p);
    return p.finally(() => set.delete(p));
  };

  return {
    name: 'docker',
    start(o) {
      if (closing.has(o.runId)) return Promise.reject(new BackendError(`run ${o.runId} is being cleaned up; no new environment starts`));
      return track(
        o.runId,
        (async () => {
          const eng = await uncache(engine(), () => (engineP = undefined));
          const img = await uncache(image(), () => (imageP = undefined));
          return startEnvironment(o, eng, img, { harnessDir, concurrency, userImage: options.image !== undefined, closed: () => closing.has(o.runId) });
        })(),
      );
    },
    closeRun(runId) {
      closing.add(runId);
    },
    async removeRun(runId) {
      closing.add(runId);
      if (!engineP) return;
      let docker: Dockerode;
      try {
        docker = (await engineP).docker;
      } catch {
        return; // no engine was ever reached: nothing was created
      }
      await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
      // A start in flight may have created something after the sweep: wait for it (bounded), sweep again.
      const pending = [...(inflight.get(runId) ?? [])];
      if (pending.length > 0) {
        await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 30_000).unref())]);
        await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
      }
    },
  };
}

interface StartContext {
  readonly harnessDir: string;
  readonly concurrency: number;
  readonly userImage: boolean;
  readonly closed: () => boolean;
}

async function startEnvironment(o: EnvironmentOptions, eng: DockerEngine, img: HarnessImage, ctx: StartContext): Promise<Environment> {
  const where = `scenario ${o.scenario.name}`;
  const workloads = o.scenario.workloads;
  if (o.dataPlane.workloadsPerProcess > 1) {
    throw new BackendError(`${where}: --workloads-per-process ${o.dataPlane.workloadsPerProcess} is not supported on the docker backend (one container per workload)`);
  }
  if (workloads.length > MAX_WORKLOADS)
    throw new BackendError(`${where}: ${workloads.length} workloads; the docker backend runs at most ${MAX_WORKLOADS} per scenario (one /24 network)`);
  if (workloads.length === 0) throw new BackendError(`${where}: no workloads`);
  const { docker } = eng;
  const envId = randomBytes(4).toString('hex');
  const labels = { ...ownerLabels(o.runId, envId), 'meshconform.scenario': o.scenario.name.slice(0, 200) };
  const dataPlaneArgv = containerArgv(o.dataPlane.argv, ctx.harnessDir);
  const echoArgv = containerArgv(o.echoArgv, ctx.harnessDir);
  // The data plane's own extra environment (DataPlaneSpec.env) reaches it through the entrypoint; nothing is inherited.
  const env: Record<string, string> = {
    ...o.dataPlane.env,
    MESHCONFORM_DATA_PLANE_ARGV: JSON.stringify(dataPlaneArgv),
    MESHCONFORM_ECHO_ARGV: JSON.stringify(echoArgv),
  };

  const boxes: Box[] = workloads.map((w) => {
    let endLogs = () => {};
    const logsEnded = new Promise<void>((r) => (endLogs = r));
    return { workload: w, label: `container of ${key(w)}`, config: containerWorkloadConfig(o, w), logs: [], logsEnded, endLogs };
  });
  let stopped = false;
  let networkId: string | undefined;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(boxes.map((b) => b.container?.stop({ timeout: STOP_TIMEOUT_MS, remove: true }).catch(() => undefined)));
    // Whatever a failed start left (a container whose wait failed is not removed by testcontainers), by label.
    await removeByLabels(docker, [`${ENV_LABEL}=${envId}`]);
    if (networkId) {
      const problem = await removeNetwork(docker, networkId);
      if (problem) throw new BackendError(`${where}: cannot remove network ${networkName(o.runId, envId)}: ${problem}`);
    }
  };

  try {
    if (ctx.closed()) throw new BackendError(`${where}: run ${o.runId} is being cleaned up`);
    const net = await createNetwork(docker, networkName(o.runId, envId), labels, where);
    networkId = net.id;

    // Start every container, a few at a time; the first failure stops the rest from being started.
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < boxes.length) {
        const b = boxes[next++]!;
        if (ctx.closed()) {
          failure ??= new BackendError(`${where}: run ${o.runId} is being cleaned up`);
          return;
        }
        try {
          b.container = await startBox(b, { o, img, env, labels, net: net.name, envId, index: boxes.indexOf(b), ctx });
        } catch (err) {
          failure ??= await startFailure(b, err, where);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ctx.concurrency, boxes.length) }, worker));
    if (failure !== undefined) throw failure;

    for (const b of boxes) watchExit(docker, b);
    const targets = new Map<WorkloadKey, WorkloadTarget>();
    for (const b of boxes) {
      const address = b.container!.getIpAddress(net.name);
      targets.set(key(b.workload), { address, ports: new Map(b.workload.ports.map((p) => [p.port, p.port])) });
    }
    await waitReady(boxes, targets, o.readyTimeoutMs, where);

    return {
      targets,
      async applyPolicies(policies: readonly PeerAuthenticationManifest[]) {
        if (stopped) throw new BackendError(`${where}: environment is not running`);
        await Promise.all(
          boxes.map(async (b) => {
            b.config.policies = policies.map((p) => structuredClone(p));
            await b.container!.copyContentToContainer([{ content: JSON.stringify(b.config, null, 2), target: `${CONFIG_DIR}/workload.json`, mode: 0o600 }]);
            // The entrypoint re-renders the data plane's config atomically and forwards the SIGHUP (the contract).
            await docker.getContainer(b.container!.getId()).kill({ signal: 'SIGHUP' });
          }),
        );
      },
      health() {
        return boxes.filter((b) => b.exit !== undefined).map((b) => `${b.label} exited (exit code ${b.exit})${tail(b)}`);
      },
      async receipts() {
        if (stopped) return [];
        const read = await Promise.all(
          boxes.map(async (b) => {
            // A container that cannot be read withholds its receipts: no evidence, never a pass.
            const r = await b.container?.exec(['node', '-e', PRINT_RECEIPTS, RECEIPTS_FILE]).catch(() => undefined);
            return r?.exitCode === 0 ? parseReceipts(r.stdout) : [];
          }),
        );
        return read.flat();
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

interface BoxContext {
  readonly o: EnvironmentOptions;
  readonly img: HarnessImage;
  readonly env: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly net: string;
  readonly envId: string;
  readonly index: number;
  readonly ctx: StartContext;
}

async function startBox(b: Box, c: BoxContext): Promise<StartedTestContainer> {
  const id = c.o.identities.get(key(b.workload));
  if (!id) throw new BackendError(`no identity issued for workload ${key(b.workload)}`);
  let container = new GenericContainer(c.img.ref)
    .withName(`mc-${c.envId}-${c.index}-${b.workload.name}`.slice(0, 120))
    .withLabels({ ...c.labels, [WORKLOAD_LABEL]: key(b.workload) })
    .withNetworkMode(c.net)
    .withEnvironment(c.env)
    .withEntrypoint(['node', ENTRYPOINT])
    .withCommand([])
    // Clean-up is ours, by label (no Ryuk, which would need a registry), and nothing is ever pulled.
    .withAutoCleanup(false)
    .withPullPolicy({ shouldPull: () => false })
    .withCopyContentToContainer([
      { content: JSON.stringify(b.config, null, 2), target: `${CONFIG_DIR}/workload.json`, mode: 0o600 },
      { content: id.certPem, target: `${CONFIG_DIR}/cert.pem`, mode: 0o644 },
      { content: id.keyPem, target: `${CONFIG_DIR}/key.pem`, mode: 0o600 },
      { content: id.caPem, target: `${CONFIG_DIR}/ca.pem`, mode: 0o644 },
      { content: c.o.appTls.certPem, target: `${CONFIG_DIR}/app-cert.pem`, mode: 0o644 },
      { content: c.o.appTls.keyPem, target: `${CONFIG_DIR}/app-key.pem`, mode: 0o600 },
    ])
    .withLogConsumer((stream) => {
      stream.setEncoding?.('utf8');
      stream.on('data', (s: string) => {
        // Bounded: 60 lines of at most 1 KiB each, however much a data plane prints.
        for (const line of String(s).split('\n')) if (line.trim()) b.logs.push(line.trimEnd().slice(-1024));
        if (b.logs.length > 60) b.logs.splice(0, b.logs.length - 60);
      });
      stream.on('error', () => b.endLogs());
      stream.on('end', () => b.endLogs());
      stream.on('close', () => b.endLogs());
    })
    .withWaitStrategy(Wait.forLogMessage(STARTED_LINE))
    .withStartupTimeout(c.o.readyTimeoutMs);
  // A user image does not have the harness baked in: copy this host's harness folder.
  if (c.ctx.userImage) container = container.withCopyDirectoriesToContainer([{ source: c.ctx.harnessDir, target: CONTAINER_HARNESS_DIR }]);
  return container.start();
}

async function createNetwork(docker: Dockerode, name: string, labels: Record<string, string>, where: string): Promise<{ id: string; name: string }> {
  const candidates = await freeSubnets(docker);
  if (candidates.length === 0)
    throw new BackendError(`${where}: no free /24 left in 198.18.0.0/15 (every one is routed on this host or used by a Docker network); run meshconform reap`);
  let last: unknown;
  for (const base of candidates.slice(0, 8)) {
    const prefix = base.slice(0, base.lastIndexOf('.'));
    try {
      const net = await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Config: [{ Subnet: `${base}/24`, Gateway: `${prefix}.1` }] },
        Labels: labels,
      });
      return { id: net.id, name };
    } catch (err) {
      last = err;
      // Another run took the same /24 between our look and our create: try the next one.
      if (!/overlap|already|in use/i.test((err as Error).message)) break;
    }
  }
  throw new BackendError(`${where}: cannot create Docker network ${name}: ${firstLine(last)}`, { cause: last });
}

async function waitReady(boxes: readonly Box[], targets: ReadonlyMap<WorkloadKey, WorkloadTarget>, timeoutMs: number, where: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = boxes.flatMap((b) => b.workload.ports.map((p) => ({ b, port: p.port, address: targets.get(key(b.workload))!.address })));
  let delay = 10;
  while (pending.length > 0) {
    const dead = pending.find((p) => p.b.exit !== undefined);
    if (dead) throw new BackendError(`${where}: ${dead.b.label} exited at start (exit code ${dead.b.exit})${tail(dead.b)}`);
    const checks = await Promise.all(pending.map((p) => tcpAccepts(p.address, p.port, 250)));
    for (let i = checks.length - 1; i >= 0; i--) if (checks[i]) pending.splice(i, 1);
    if (pending.length === 0) break;
    if (Date.now() > until) {
      const first = pending[0]!;
      const missing = pending.map((p) => `${key(p.b.workload)} port ${p.port} (${p.address}:${p.port})`).join(', ');
      throw new BackendError(`${where}: not ready after ${timeoutMs} ms: nothing accepts TCP from the host on ${missing}${tail(first.b)}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/**
 * A container that will not come up: the error names it and carries the end of its logs. testcontainers removes a
 * container whose wait failed, so the exit code comes from the entrypoint's last line (`… exit <code>`).
 */
async function startFailure(b: Box, err: unknown, where: string): Promise<BackendError> {
  if (err instanceof BackendError) return err;
  await Promise.race([b.logsEnded, sleep(2000)]);
  const exitLine = b.logs.findLast((l) => EXIT_LINE.test(l));
  if (exitLine) b.exit = Number(EXIT_LINE.exec(exitLine)![1]);
  const state = b.exit !== undefined ? `exited at start (exit code ${b.exit})` : `did not start: ${firstLine(err)}`;
  const text = escapeControls(
    b.logs
      .filter((l) => !EXIT_LINE.test(l))
      .slice(-4)
      .join(' | '),
  );
  return new BackendError(`${where}: ${b.label} ${state}${text ? `: ${text}` : ' (no output)'}`, { cause: err });
}

function watchExit(docker: Dockerode, b: Box): void {
  docker
    .getContainer(b.container!.getId())
    .wait()
    .then((r: { StatusCode?: number }) => {
      b.exit = r.StatusCode ?? -1;
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

function networkName(runId: string, envId: string): string {
  return `meshconform-${runId}-${envId}`.toLowerCase();
}

function key(w: Workload): WorkloadKey {
  return `${w.namespace}/${w.name}`;
}

function tail(b: Box): string {
  const text = escapeControls(
    b.logs
      .filter((l) => !EXIT_LINE.test(l))
      .slice(-4)
      .join(' | '),
  );
  return text ? `: ${text}` : '';
}
