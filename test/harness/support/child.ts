// Child processes for harness tests: started with a clean env, lines of stdout observable, stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ECHO_APP = fileURLToPath(new URL('../../../harness/echo/echo-app.mjs', import.meta.url));
export const SIDECAR = fileURLToPath(new URL('../../../harness/reference/sidecar.mjs', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  readonly exited: Promise<Exit>;
  stderr(): string;
  /** The first stdout line (from `from` on) matching; rejects if the process exits first. */
  waitForLine(match: (line: string) => boolean, from?: number): Promise<string>;
  /** All stderr so far once it matches (stdout and stderr are separate pipes: a stdout line can arrive first). */
  waitForStderr(match: RegExp): Promise<string>;
}

export function startChild(script: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${script}`);
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of waiters) w();
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  return {
    process: proc,
    pid: proc.pid,
    lines,
    exited,
    stderr: () => stderr,
    waitForLine(match, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.slice(from).find(match);
          if (found !== undefined) {
            waiters.delete(check);
            resolve(found);
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`process ${proc.pid} exited before the expected line; stderr: ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    waitForStderr(match) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (match.test(stderr)) {
            waiters.delete(check);
            resolve(stderr);
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`process ${proc.pid} exited before stderr matched ${match}; stderr: ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** SIGTERM by PID, SIGKILL if it is still there after 5 s. */
export async function stopChild(child: Child | undefined): Promise<Exit | undefined> {
  if (!child) return undefined;
  if (child.process.exitCode !== null || child.process.signalCode !== null) return child.exited;
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.process.exitCode === null && child.process.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  const exit = await child.exited;
  clearTimeout(timer);
  return exit;
}
