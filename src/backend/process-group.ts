import { spawn, type ChildProcess } from 'node:child_process';
import { BackendError } from '../util/errors.js';
import { ByteRing } from '../util/byte-ring.js';
import { recordGroup } from '../util/run-state.js';
import { escapeControls } from '../util/terminal-text.js';

/** The data-plane contract's stop grace: SIGKILL after 5 s. */
export const STOP_GRACE_MS = 5000;
/** After the exit, how long the last output still in the pipes is read before they are closed regardless. */
const DRAIN_MS = 200;

/**
 * A process the harness runs (a data plane, an echo application) as the leader of its own process group, so a stop
 * takes its whole tree. Its exit is noticed on `exit`, not when its pipes close (a child may hold them forever);
 * what it prints is kept as a bounded tail per stream.
 */
export interface GroupProc {
  /** A reused process (src/backend/common/process-pool.ts) is relabelled for each scenario it serves. */
  label: string;
  readonly child: ChildProcess;
  /** Also the process group id. */
  readonly pid: number | undefined;
  readonly stdout: ByteRing;
  readonly stderr: ByteRing;
  /** Resolves once the process has exited and its remaining output is read (bounded). */
  readonly exited: Promise<void>;
  exit?: { code: number | undefined; signal: string | undefined };
  /** The harness asked it to stop (chaos kill or teardown): its exit is not a health problem. */
  expectedExit: boolean;
}

// Groups not known to be gone: a forced exit (a second Ctrl-C) SIGKILLs them on the way out.
const live = new Set<GroupProc>();
let exitHook = false;

function killGroup(p: GroupProc, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    // the whole group is gone
  }
}

/**
 * Starts `argv` with `env` added to the harness's environment (an undefined value removes a variable), stdout and
 * stderr piped into bounded tails; `onStdout` also sees stdout as text, `onOutput` both streams' bytes, as they arrive.
 */
export function spawnGroup(
  label: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options: { readonly onStdout?: (chunk: string) => void; readonly onOutput?: (stream: 'stdout' | 'stderr', bytes: Buffer) => void } = {},
): GroupProc {
  const [file, ...args] = argv;
  if (!file) throw new BackendError(`${label}: empty command`);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) killGroup(p, 'SIGKILL');
    });
  }
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) fullEnv[k] = v;
  const child = spawn(file, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stdout = new ByteRing();
  const stderr = new ByteRing();
  child.stdout!.on('data', (b: Buffer) => {
    stdout.push(b);
    options.onOutput?.('stdout', b);
    options.onStdout?.(b.toString('utf8'));
  });
  child.stderr!.on('data', (b: Buffer) => {
    stderr.push(b);
    options.onOutput?.('stderr', b);
  });
  // A pipe error (EPIPE after a forced close) is not the process's exit.
  child.stdout!.on('error', () => {});
  child.stderr!.on('error', () => {});

  let resolveExited!: () => void;
  const exited = new Promise<void>((r) => (resolveExited = r));
  const proc: GroupProc = { label, child, pid: child.pid, stdout, stderr, exited, expectedExit: false };
  const release = child.pid !== undefined ? recordGroup(child.pid, label) : () => {};
  if (child.pid !== undefined) live.add(proc);

  let done = false;
  const finish = (exit: { code: number | undefined; signal: string | undefined }) => {
    if (done) return;
    done = true;
    proc.exit = exit;
    // What the leader left behind (a forked child, a helper holding its pipes) goes with it.
    killGroup(proc, 'SIGKILL');
    live.delete(proc);
    release();
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    void Promise.race([closed, new Promise<void>((r) => setTimeout(r, DRAIN_MS).unref())]).then(() => {
      // A process outside the group (it called setsid) may still hold the pipes: stop reading them.
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolveExited();
    });
  };
  child.once('exit', (code, signal) => finish({ code: code ?? undefined, signal: signal ?? undefined }));
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) return; // a failed kill, not a failed start
    stderr.push(err.code === 'ENOENT' ? `command not found: ${file}` : err.message);
    finish({ code: undefined, signal: undefined });
  });
  return proc;
}

export function running(p: GroupProc | undefined): p is GroupProc {
  return p !== undefined && p.exit === undefined;
}

/**
 * Stops the process: `signal` to the leader (SIGKILL goes to the whole group), SIGKILL to the group after the grace
 * period, and what is left of the group once the leader has exited. Resolves when the leader has exited.
 */
export async function stopGroup(p: GroupProc, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<void> {
  p.expectedExit = true;
  if (running(p)) {
    if (signal === 'SIGKILL') killGroup(p, 'SIGKILL');
    else p.child.kill(signal);
    const force = setTimeout(() => killGroup(p, 'SIGKILL'), graceMs);
    try {
      await p.exited;
    } finally {
      clearTimeout(force);
    }
  }
  killGroup(p, 'SIGKILL');
  await p.exited;
}

/** Sends `signal` (SIGHUP: reload) to the leader if it runs. */
export function signalLeader(p: GroupProc | undefined, signal: NodeJS.Signals): void {
  if (running(p)) p.child.kill(signal);
}

/** The first line a process prints (its ready message): feed `onStdout` its stdout; `line` resolves once a newline arrives. */
export function firstLine(): { line: Promise<string>; onStdout(chunk: string): void } {
  let text = '';
  let resolveLine: (line: string) => void = () => {};
  const line = new Promise<string>((resolve) => (resolveLine = resolve));
  return {
    line,
    onStdout(chunk) {
      if (text.includes('\n')) return;
      text += chunk;
      if (text.includes('\n')) resolveLine(text.slice(0, text.indexOf('\n')));
    },
  };
}

export function describeExit(p: GroupProc): string {
  if (!p.exit) return 'running';
  if (p.exit.signal) return `signal ${p.exit.signal}`;
  return p.exit.code === undefined ? 'could not start' : `exit code ${p.exit.code}`;
}

/** The last stderr lines, one line, control characters escaped: safe in an error message on a terminal. */
export function tail(p: GroupProc): string {
  const lines = p.stderr
    .text()
    .trim()
    .split('\n')
    .slice(-3)
    .map((l) => (l.length > 300 ? `…${l.slice(-300)}` : l));
  const text = escapeControls(lines.join(' | ').trim());
  return text ? `: ${text}` : '';
}
