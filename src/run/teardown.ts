/**
 * Process-wide clean-up stack: setup pushes its teardown before it can leave anything behind, and teardowns
 * run in reverse order on success, failure, SIGINT and SIGTERM.
 */
type Teardown = () => Promise<void> | void;

const stack: { label: string; fn: Teardown }[] = [];
let installed = false;
let draining: Promise<void> | undefined;

export function pushTeardown(label: string, fn: Teardown): () => void {
  installSignalHandlers();
  const entry = { label, fn };
  stack.push(entry);
  return () => {
    const i = stack.indexOf(entry);
    if (i >= 0) stack.splice(i, 1);
  };
}

/** Runs one registered teardown now (and unregisters it). */
export async function runTeardown(remove: () => void, fn: Teardown): Promise<void> {
  remove();
  await fn();
}

export function drainTeardowns(): Promise<void> {
  draining ??= (async () => {
    while (stack.length > 0) {
      const { label, fn } = stack.pop()!;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`meshconform: clean-up of ${label} failed: ${(err as Error).message}\n`);
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
