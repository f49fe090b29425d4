/**
 * Process-wide clean-up stack: setup pushes its teardown before it can leave anything behind, and teardowns
 * run in reverse order on success, failure, SIGINT and SIGTERM.
 */
import { escapeControls } from '../util/terminal-text.js';

type Teardown = () => Promise<void> | void;

interface Entry {
  readonly label: string;
  readonly fn: Teardown;
  /** Set once the teardown runs: whoever comes later (a signal handler) waits for this run instead of skipping it. */
  running?: Promise<void>;
}

const stack: Entry[] = [];
/** remove-function → its entry, so `runTeardown` can mark the entry running. */
const entries = new WeakMap<() => void, Entry>();
let installed = false;
let draining: Promise<void> | undefined;
let cleaning = false;

/**
 * True once the clean-up stack has begun to drain (a signal, or the end of the command). Set before the first
 * teardown starts, so a command a teardown spawns in that same tick already sees it.
 */
export function cleaningUp(): boolean {
  return cleaning;
}

export function pushTeardown(label: string, fn: Teardown): () => void {
  installSignalHandlers();
  const entry: Entry = { label, fn };
  stack.push(entry);
  const remove = () => {
    const i = stack.indexOf(entry);
    if (i >= 0) stack.splice(i, 1);
  };
  entries.set(remove, entry);
  return remove;
}

function start(entry: Entry, fn: Teardown = entry.fn): Promise<void> {
  return (entry.running ??= (async () => fn())());
}

/**
 * Runs one registered teardown now; it stays registered until it has finished, so a SIGINT or SIGTERM meanwhile
 * waits for it (a data plane ignoring SIGTERM still gets its SIGKILL) instead of exiting past it.
 */
export async function runTeardown(remove: () => void, fn: Teardown): Promise<void> {
  const entry = entries.get(remove);
  if (!entry) {
    remove();
    await fn();
    return;
  }
  try {
    await start(entry, fn);
  } finally {
    remove();
  }
}

export function drainTeardowns(): Promise<void> {
  cleaning = true;
  draining ??= (async () => {
    while (stack.length > 0) {
      const entry = stack[stack.length - 1]!;
      try {
        await start(entry);
      } catch (err) {
        process.stderr.write(`meshconform: clean-up of ${escapeControls(entry.label)} failed: ${escapeControls((err as Error).message, { keepNewlines: true })}\n`);
      } finally {
        const i = stack.indexOf(entry);
        if (i >= 0) stack.splice(i, 1);
      }
    }
  })().finally(() => {
    draining = undefined;
  });
  return draining;
}

/** Makes SIGINT/SIGTERM run the clean-up stack and exit 130/143; idempotent. */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nmeshconform: ${signal} received, cleaning up…\n`);
      // A second signal while cleaning up forces the exit.
      process.once(signal, () => process.exit(code));
      void drainTeardowns().finally(() => process.exit(code));
    });
  }
}
