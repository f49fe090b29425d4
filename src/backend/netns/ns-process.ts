import { execa, type ResultPromise } from 'execa';
import { BackendError } from '../../util/errors.js';

/** The data-plane contract's stop grace: SIGKILL after 5 s. */
export const STOP_GRACE_MS = 5000;

type Child = ResultPromise<{ stdio: ['ignore', 'pipe' | 'ignore', 'pipe']; reject: false; buffer: false }>;

/** A process started inside a network namespace (`ip netns exec` replaces itself with the command: same PID). */
export interface NsProc {
  readonly label: string;
  readonly child: Child;
  readonly pid: number | undefined;
  readonly stderr: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  exit?: { code: number | undefined; signal: string | undefined };
  /** The harness asked it to stop (chaos kill or teardown): its exit is not a health problem. */
  expectedExit: boolean;
}

export function spawnInNetns(
  netns: string,
  label: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options: { readonly stdout?: (chunk: string) => void } = {},
): NsProc {
  if (argv.length === 0) throw new BackendError(`${label}: empty command`);
  const child = execa('ip', ['netns', 'exec', netns, ...argv], {
    env,
    stdio: ['ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'],
    buffer: false,
    reject: false,
    cleanup: true,
    forceKillAfterDelay: STOP_GRACE_MS,
  }) as Child;
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    stderr.push(s);
    if (stderr.length > 50) stderr.shift();
  });
  if (options.stdout && child.stdout) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', options.stdout);
  }
  const proc: NsProc = {
    label,
    child,
    pid: child.pid,
    stderr,
    expectedExit: false,
    exited: child.then((r) => {
      proc.exit = { code: r.exitCode, signal: r.signal };
      if (r.failed && !r.exitCode && !r.signal && r.originalMessage) stderr.push(r.originalMessage);
    }) as Promise<void>,
  };
  return proc;
}

export function running(p: NsProc | undefined): p is NsProc {
  return p !== undefined && p.exit === undefined;
}

/** Sends `signal` and waits for the exit; SIGTERM is followed by SIGKILL after the grace period. */
export async function stopProc(p: NsProc, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  p.expectedExit = true;
  if (running(p)) p.child.kill(signal);
  await p.exited;
}

export function describeExit(p: NsProc): string {
  if (!p.exit) return 'running';
  if (p.exit.signal) return `signal ${p.exit.signal}`;
  return p.exit.code === undefined ? 'could not start' : `exit code ${p.exit.code}`;
}

/** The last stderr lines, for a start failure or a health problem. */
export function tail(p: NsProc): string {
  const text = p.stderr.join('').trim().split('\n').slice(-3).join(' | ');
  return text ? `: ${text}` : '';
}
