// Test doubles and fixtures for the kind and cluster backends: a scripted command runner that records the exact
// command sequence, and a bridge that maps the in-cluster probe agent onto a real agent process next to real
// workloads (local or docker backend).
import { execa } from 'execa';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, createExecaRunner, type Command, type CommandResult, type CommandRunner, type LineStream } from '../../../src/backend/kube/index.js';
import type {
  Claim,
  CleanupScope,
  Environment,
  EnvironmentOptions,
  MeshMode,
  PeerAuthenticationManifest,
  Backend,
  RunResult,
  Scenario,
  SessionOptions,
} from '../../../src/model/index.js';
import type { ConvergenceOptions } from '../../../src/backend/kube/index.js';
import type { MeshPki } from '../../../src/pki/index.js';
import { runSuite } from '../../../src/run/pipeline.js';
import { scope } from '../../../src/run/lifecycle.js';
import { loadScenarios } from '../../../src/scenario/index.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const harnessDir = join(root, 'harness');
export const agentPath = join(harnessDir, 'probe-agent/probe-agent.mjs');
export const fixture = (name: string) => join(root, 'test/backend/kube/fixtures', `${name}.yaml`);
export const e2eScenario = (name: string) => join(root, 'test/e2e/fixtures/scenarios', `${name}.yaml`);
export const RUN_ID = '20260101T000000Z-abc123';

export async function scenario(file: string): Promise<Scenario> {
  const [s] = await loadScenarios([file]);
  if (!s) throw new Error(`no scenario in ${file}`);
  return s;
}

export interface Recorded {
  readonly kind: 'run' | 'stream';
  readonly argv: readonly string[];
  readonly input?: string;
  readonly show?: string;
}

/** What the script answers for one command; `undefined` falls through to success with empty output. */
export type Responder = (argv: readonly string[], input: string | undefined) => Partial<CommandResult> | undefined | Promise<Partial<CommandResult> | undefined>;

/**
 * A runner that executes nothing: it records every command and answers from `respond` (success, empty output by
 * default; a command's `dryRunStdout` when the script has nothing to say). `stream` hands `kubectl exec -i` to
 * `openStream` (a real agent process in the tests that probe).
 */
export class ScriptedRunner implements CommandRunner {
  readonly dryRun = false;
  readonly calls: Recorded[] = [];
  constructor(
    private readonly respond: Responder = () => undefined,
    private readonly openStream?: (cmd: Command) => LineStream,
  ) {}

  async run(cmd: Command): Promise<CommandResult> {
    this.calls.push({ kind: 'run', argv: cmd.argv, ...(cmd.input !== undefined ? { input: cmd.input } : {}), ...(cmd.show !== undefined ? { show: cmd.show } : {}) });
    const r = await this.respond(cmd.argv, cmd.input);
    return { exitCode: 0, stdout: r?.stdout ?? (r === undefined ? (cmd.dryRunStdout ?? '') : ''), stderr: '', ...r };
  }

  stream(cmd: Command): LineStream {
    this.calls.push({ kind: 'stream', argv: cmd.argv, ...(cmd.show !== undefined ? { show: cmd.show } : {}) });
    if (!this.openStream) throw new Error(`unexpected stream: ${commandLine(cmd.argv)}`);
    return this.openStream(cmd);
  }

  /** Every command as one line each (`$ argv`), stdin left out. */
  lines(): string[] {
    return this.calls.map((c) => `${c.kind === 'stream' ? 'stream' : '$'} ${commandLine(c.argv)}`);
  }

  /** The transcript in the plan's format (commands, and the plan form of every stdin as a here-document). */
  transcript(): string {
    return this.calls
      .map((c) => {
        const stdin = c.show ?? c.input;
        const marker = c.kind === 'stream' ? 'JSON_LINES' : 'YAML';
        return stdin === undefined ? `$ ${commandLine(c.argv)}\n` : `$ ${commandLine(c.argv)} <<'${marker}'\n${stdin.endsWith('\n') ? stdin : `${stdin}\n`}${marker}\n`;
      })
      .join('');
  }
}

/** The run-specific bits of a transcript (owner pid and host, temp folders) replaced by stable markers. */
export function normalize(text: string): string {
  return text
    .replaceAll(`"${process.pid}"`, '"<pid>"')
    .replace(new RegExp(`(meshconform\\.dev/host: )${escapeRe(hostname())}`, 'g'), '$1<host>')
    .replace(new RegExp(`${escapeRe(tmpdir())}/meshconform-cacerts-[^/\\s']+/`, 'g'), '<private folder>/')
    .replaceAll(root, '<repo>/');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A real probe agent process on this host, spoken to over its stdin/stdout like `kubectl exec -i`. */
export function localAgentStream(): LineStream {
  return createExecaRunner().stream({ argv: [process.execPath, agentPath] });
}

/**
 * The kube backend's view of a running environment: answers `kubectl get pods -o json` with the environment's
 * addresses, and turns a policy apply into the environment's own policy change (a SIGHUP to the data plane).
 * `podNames`: the pods have names (`<workload>-pod`), so the backend also asks istioctl and kubectl logs about them.
 */
export function podsResponder(s: Scenario, env: Environment, extra: Responder = () => undefined, o: { readonly podNames?: boolean } = {}): Responder {
  return async (argv, input) => {
    const r = await extra(argv, input);
    if (r !== undefined) return r;
    const i = argv.indexOf('get');
    if (i > 0 && argv[i + 1] === 'pods' && argv.includes('json')) {
      const ns = argv[argv.indexOf('-n') + 1];
      const items = s.workloads
        .filter((w) => w.namespace === ns)
        .map((w) => ({
          metadata: { ...(o.podNames ? { name: `${w.name}-pod` } : {}), labels: { 'meshconform.workload': w.name } },
          status: { phase: 'Running', podIP: env.targets.get(`${w.namespace}/${w.name}`)!.address },
        }));
      return { stdout: JSON.stringify({ items }) };
    }
    if (argv.includes('apply') && input?.includes('kind: PeerAuthentication')) {
      await env.applyPolicies(s.policies.map((p) => p.manifest as PeerAuthenticationManifest));
      return {};
    }
    return undefined;
  };
}

/** `docker exec -i <container> node …/probe-agent.mjs`: the same agent inside a workload container. */
export function dockerAgentStream(container: string): LineStream {
  return createExecaRunner().stream({ argv: ['docker', 'exec', '-i', container, 'node', '/meshconform/harness/probe-agent/probe-agent.mjs'] });
}

/** Whether a command runs on this machine (for capability checks). */
export async function hasCommand(argv: readonly [string, ...string[]]): Promise<boolean> {
  const r = await execa(argv[0], argv.slice(1), { reject: false, timeout: 10_000 });
  return r.exitCode === 0;
}

/** The options kube tests run with: the pipeline's, with the kube defaults filled in. */
export interface KubeSuiteOptions {
  readonly scenarios: readonly Scenario[];
  readonly paths: readonly string[];
  readonly backend: Backend;
  readonly runId: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly convergence: ConvergenceOptions;
  readonly dataPlaneName: string;
  readonly log?: (line: string) => void;
  readonly pki?: MeshPki;
  readonly claim?: Claim;
}

/** A kube run through the one pipeline; undefined in a dry run (the plan went to the runner's output). */
export async function runKubeSuite(o: KubeSuiteOptions): Promise<RunResult | undefined> {
  const result = await runSuite({
    scenarios: o.scenarios,
    paths: o.paths,
    backend: o.backend,
    dataPlane: { name: o.dataPlaneName, argv: [], workloadsPerProcess: 1, meshModes: ['sidecar', 'ambient'] },
    echoArgv: [],
    convergence: o.convergence,
    concurrency: o.concurrency,
    timeoutMs: o.timeoutMs,
    readyTimeoutMs: 15_000,
    parallelScenarios: 1,
    runId: o.runId,
    ...(o.log ? { log: o.log } : {}),
    ...(o.pki ? { pkiFor: () => o.pki! } : {}),
    ...(o.claim ? { claim: o.claim } : {}),
  });
  return o.backend.dryRun ? undefined : result;
}

/** What a session of a kube backend is opened with, outside the pipeline (tests that drive one environment directly). */
export function sessionOptions(pki: MeshPki): SessionOptions {
  return {
    runId: RUN_ID,
    trustDomain: pki.trustDomain,
    probe: { timeoutMs: 3000, concurrency: 4 },
    pkiFor: () => ({
      trustDomain: pki.trustDomain,
      meshCaPem: pki.meshCaPem,
      writeCaFiles: (dir) => pki.writeCaFiles(dir as Parameters<MeshPki['writeCaFiles']>[0]),
      appIdentity: () => pki.appIdentity(),
      probeMaterial: () => pki.probeMaterial(),
      otherTrustDomain: 'other.example',
      probeIdentity: { namespace: 'meshconform-probe', serviceAccount: 'probe' },
    }),
  };
}

/** A deploy request for one scenario (the kube backends read only the scenario and the mesh mode). */
export function environmentOptions(s: Scenario, meshMode: MeshMode, pki: MeshPki): EnvironmentOptions {
  return {
    runId: RUN_ID,
    scenario: s,
    meshMode,
    dataPlane: { name: 'istio (kind)', argv: [], workloadsPerProcess: 1 },
    echoArgv: [],
    identities: new Map(),
    appTls: pki.appIdentity(),
    readyTimeoutMs: 15_000,
  };
}

/** Every clean-up a test's backends registered and have not run yet, by label. */
export const teardowns: string[] = [];

/** The run's lifecycle scope, recording what is owned in `teardowns`. */
export function recordingScope(): CleanupScope {
  const s = scope();
  return {
    own(label, fn) {
      teardowns.push(label);
      return s.own(label, async () => {
        const i = teardowns.indexOf(label);
        if (i >= 0) teardowns.splice(i, 1);
        await fn();
      });
    },
    close: () => s.close(),
    interrupted: () => s.interrupted(),
  };
}
