import { createInterface } from 'node:readline';
import { execa } from 'execa';

/** One invocation of kind, kubectl or istioctl: argv[0] is the tool. Secrets never go in argv (files or stdin only). */
export interface Command {
  readonly argv: readonly [string, ...string[]];
  /** Written to stdin (manifests as YAML, probe batches). */
  readonly input?: string;
  /** What a plan prints for stdin instead of `input` (Secret data redacted); default: `input`. */
  readonly show?: string;
  /** Killed after this long (the result then has `timedOut`). */
  readonly timeoutMs?: number;
  /** What a dry run pretends the command printed, for commands whose output the next steps read. */
  readonly dryRunStdout?: string;
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The tool is not on PATH (nothing ran). */
  readonly notFound?: boolean;
  readonly timedOut?: boolean;
}

/** A long-lived process spoken to in lines (the probe agent's `kubectl exec -i` session). */
export interface LineStream {
  send(line: string): void;
  /** Lines the process writes on stdout, in order; ends when stdout closes. */
  readonly lines: AsyncIterator<string>;
  /** Closes stdin and waits for the exit. */
  close(): Promise<CommandResult>;
  /** Ends the process now (SIGTERM, then SIGKILL). */
  kill(): void;
}

/**
 * Everything the kube backends execute goes through this interface: execa in a real run, a recorder in tests (the
 * exact command sequence is the golden output), a printer in `--dry-run`.
 */
export interface CommandRunner {
  /** True when nothing is executed (the plan is printed instead). */
  readonly dryRun: boolean;
  /** Runs to completion; never rejects for a non-zero exit or a missing tool (see CommandResult). */
  run(cmd: Command): Promise<CommandResult>;
  stream(cmd: Command): LineStream;
}

const STREAM_MAX_BUFFER = 256 * 1024 * 1024;

/**
 * The real runner: execa, no shell, output captured, the environment inherited (KUBECONFIG, PATH, DOCKER_HOST).
 * `interrupt`: when it aborts, commands already running (a `kind create cluster` can take minutes) are stopped so the
 * clean-up can start at once. Commands the clean-up itself starts (`cleaningUp` true when they start, even in the
 * very tick of the signal) are never stopped.
 */
export function createExecaRunner(
  options: { readonly env?: Readonly<Record<string, string>>; readonly interrupt?: AbortSignal; readonly cleaningUp?: () => boolean } = {},
): CommandRunner {
  const running = new Set<{ kill(signal: NodeJS.Signals): boolean }>();
  options.interrupt?.addEventListener(
    'abort',
    () => {
      for (const child of running) child.kill('SIGTERM');
    },
    { once: true },
  );
  return {
    dryRun: false,
    async run(cmd) {
      const [file, ...args] = cmd.argv;
      const child = execa(file, args, {
        reject: false,
        ...(cmd.input !== undefined ? { input: cmd.input } : { stdin: 'ignore' as const }),
        ...(cmd.timeoutMs !== undefined ? { timeout: cmd.timeoutMs } : {}),
        ...(options.env ? { env: options.env } : {}),
        stripFinalNewline: true,
        maxBuffer: STREAM_MAX_BUFFER,
        forceKillAfterDelay: 3000,
      });
      if (!options.cleaningUp?.()) running.add(child);
      const r = await child.finally(() => running.delete(child));
      const notFound = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String((r as { originalMessage?: string }).originalMessage ?? ''));
      return {
        exitCode: r.exitCode ?? (notFound ? 127 : 1),
        stdout: String(r.stdout ?? ''),
        stderr: String(r.stderr ?? (r.failed ? ((r as { shortMessage?: string }).shortMessage ?? '') : '')),
        ...(notFound ? { notFound: true } : {}),
        ...(r.timedOut ? { timedOut: true } : {}),
      };
    },
    stream(cmd) {
      const [file, ...args] = cmd.argv;
      const child = execa(file, args, {
        reject: false,
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
        buffer: { stdout: false, stderr: true },
        ...(options.env ? { env: options.env } : {}),
        forceKillAfterDelay: 3000,
        maxBuffer: STREAM_MAX_BUFFER,
      });
      child.stdin!.on('error', () => {}); // a process that died: its exit result says why
      const rl = createInterface({ input: child.stdout!, crlfDelay: Infinity });
      const lines = rl[Symbol.asyncIterator]();
      return {
        send(line) {
          if (!child.stdin!.destroyed) child.stdin!.write(`${line}\n`);
        },
        lines,
        async close() {
          child.stdin!.end();
          const r = await child;
          rl.close();
          const notFound = (r as { code?: string }).code === 'ENOENT';
          return { exitCode: r.exitCode ?? (notFound ? 127 : 1), stdout: '', stderr: String(r.stderr ?? ''), ...(notFound ? { notFound: true } : {}) };
        },
        kill() {
          child.kill('SIGTERM');
        },
      };
    },
  };
}

/** A command as one shell-like line, for plans and error messages (quoted only where needed). */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
