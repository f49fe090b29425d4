/**
 * The run's lifecycle: every setup is declared with its teardown as one task (Playwright's runner tasks are the model),
 * and one interrupt watcher owns SIGINT and SIGTERM. Teardowns run newest first on success, failure and interrupt.
 *
 * On the first signal, always in this order: the run's interrupt signal aborts (nothing more is judged or started),
 * every live task's `onInterrupt` gate runs (e.g. docker refuses new containers), the teardowns drain, the process
 * exits 130 (SIGINT) or 143 (SIGTERM). A second signal while cleaning up forces the exit. No other module listens
 * for these signals, so the order never depends on the order listeners were added.
 */
import type { CleanupScope } from '../model/index.js';
import { BackendError, MeshconformError } from '../util/errors.js';
import { escapeControls } from '../util/terminal-text.js';

type Teardown = () => Promise<void> | void;

interface Entry {
  readonly label: string;
  readonly fn: Teardown;
  readonly onInterrupt?: () => void;
  /** Set once the teardown runs: whoever comes later (the drain) waits for this run instead of starting another. */
  running?: Promise<void>;
}

/** A registered teardown: `end` runs it now (once, whoever starts it first); `release` drops it without running. */
export interface Owned {
  end(): Promise<void>;
  release(): void;
}

const stack: Entry[] = [];
const controller = new AbortController();
let watching = false;
let draining: Promise<void> | undefined;
let cleaning = false;

/**
 * The run's interrupt: aborted (reason: the signal's name) by the first SIGINT or SIGTERM, before any clean-up runs.
 * Watching starts on the first call; library callers that never call it get no signal handling.
 */
export function interruptSignal(): AbortSignal {
  watchSignals();
  return controller.signal;
}

/**
 * True once the teardowns have begun to drain (a signal, or the end of the command). Set before the first teardown
 * starts, so a command a teardown spawns in that same tick already sees it.
 */
export function cleaningUp(): boolean {
  return cleaning;
}

function run(entry: Entry): Promise<void> {
  return (entry.running ??= (async () => entry.fn())());
}

function forget(entry: Entry): void {
  const i = stack.indexOf(entry);
  if (i >= 0) stack.splice(i, 1);
}

/**
 * Registers a teardown before the thing it removes exists. It stays registered while it runs, so an interrupt meanwhile
 * waits for it (a data plane ignoring SIGTERM still gets its SIGKILL) instead of exiting past it.
 */
export function own(label: string, fn: Teardown, options: { readonly onInterrupt?: () => void } = {}): Owned {
  const entry: Entry = { label, fn, ...(options.onInterrupt ? { onInterrupt: options.onInterrupt } : {}) };
  stack.push(entry);
  return {
    async end() {
      if (!stack.includes(entry) && !entry.running) return;
      try {
        await run(entry);
      } finally {
        forget(entry);
      }
    },
    release: () => forget(entry),
  };
}

/** A setup asked for after the interrupt: the run is stopping, nothing new starts. */
export class InterruptedError extends MeshconformError {
  constructor(label: string) {
    super(`${label}: not started, the run is being interrupted`);
  }
}

/** A task whose setup is under way or done: its value, and its teardown to run now. */
export interface Started<T> extends Owned {
  readonly value: T;
}

/**
 * Runs a setup with its teardown declared beside it. An interrupt during the setup aborts it (the setup's signal) and
 * waits for it to settle; a setup that fails removes what it made itself. Once it resolves, `teardown` is owned.
 */
export async function task<T>(
  label: string,
  setup: (signal: AbortSignal) => Promise<T>,
  teardown: (value: T) => Promise<void> | void,
  options: { readonly onInterrupt?: (value: T) => void } = {},
): Promise<Started<T>> {
  // Nothing starts once the run is interrupted; a setup in progress is aborted by the signal itself, not only when
  // the drain reaches it (the drain may be waiting on older teardowns first).
  if (controller.signal.aborted) throw new InterruptedError(label);
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  controller.signal.addEventListener('abort', onInterrupt, { once: true });
  let starting: Promise<unknown> = Promise.resolve();
  const start = own(`start of ${label}`, async () => {
    abort.abort();
    await starting.catch(() => {});
  });
  let value: T;
  try {
    const p = setup(abort.signal);
    starting = p;
    value = await p;
  } finally {
    controller.signal.removeEventListener('abort', onInterrupt);
    start.release();
  }
  const v = value;
  const owned = own(label, () => teardown(v), options.onInterrupt ? { onInterrupt: () => options.onInterrupt!(v) } : {});
  return { value: v, end: owned.end, release: owned.release };
}

/**
 * A group of teardowns a component unwinds together (on close, or when its own setup fails) that the drain also
 * reaches one by one: what the kube backend creates during a run.
 */
export function scope(): CleanupScope {
  const mine: Owned[] = [];
  let interrupted = false;
  return {
    own(label, fn) {
      const o = own(label, async () => {
        if (cleaning) interrupted = true;
        const i = mine.indexOf(o);
        if (i >= 0) mine.splice(i, 1);
        await fn();
      });
      mine.push(o);
      return () => o.end();
    },
    async close() {
      const problems: string[] = [];
      while (mine.length > 0) {
        const o = mine.at(-1)!;
        try {
          await o.end();
        } catch (err) {
          problems.push((err as Error).message);
        } finally {
          const i = mine.indexOf(o);
          if (i >= 0) mine.splice(i, 1);
        }
      }
      if (problems.length > 0) throw new BackendError(`clean-up incomplete: ${problems.join('; ')}`);
    },
    interrupted: () => interrupted || controller.signal.aborted,
  };
}

/** Runs every teardown still registered, newest first; failures are reported and do not stop the others. */
export function drain(): Promise<void> {
  cleaning = true;
  draining ??= (async () => {
    while (stack.length > 0) {
      const entry = stack.at(-1)!;
      try {
        await run(entry);
      } catch (err) {
        process.stderr.write(`meshconform: clean-up of ${escapeControls(entry.label)} failed: ${escapeControls((err as Error).message, { keepNewlines: true })}\n`);
      } finally {
        forget(entry);
      }
    }
  })().finally(() => {
    draining = undefined;
  });
  return draining;
}

/** Installs the one watcher of SIGINT and SIGTERM; idempotent. */
export function watchSignals(): void {
  if (watching) return;
  watching = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nmeshconform: ${signal} received, cleaning up…\n`);
      process.once(signal, () => process.exit(code));
      controller.abort(signal);
      for (const e of [...stack]) {
        try {
          e.onInterrupt?.();
        } catch {
          // A gate that fails to close still leaves the drain to remove what exists.
        }
      }
      void drain().finally(() => process.exit(code));
    });
  }
}

/**
 * Holds the exit after an interrupt until `release` (the partial report is written) or `limitMs` passes. Taken before
 * the run starts, so the drain removes the run's environments first and then waits here for the report.
 */
export function holdExit(label: string, limitMs = 30_000): { release(): void } {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  const held = own(label, async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, limitMs)))]);
    clearTimeout(timer);
  });
  return {
    release() {
      held.release();
      release();
    },
  };
}
