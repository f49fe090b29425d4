import { mkdtempSync, rmSync } from 'node:fs';
import { rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A 0700 temporary folder for key material and configs; files are written 0600 unless told otherwise. */
export interface PrivateDir {
  readonly path: string;
  /** Writes `name` atomically (temp file + rename) and returns its absolute path. */
  write(name: string, content: string, mode?: number): Promise<string>;
  remove(): Promise<void>;
}

// Folders not yet removed: a forced exit (a second Ctrl-C) still deletes them, synchronously, on the way out.
const live = new Set<string>();
let exitHook = false;

export async function createPrivateDir(prefix = 'meshconform-'): Promise<PrivateDir> {
  // Synchronous on purpose: a folder created by a thread-pool call still in flight at a forced exit would escape
  // the exit hook below.
  const path = mkdtempSync(join(tmpdir(), prefix));
  live.add(path);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      // Retries: a write still in flight on the thread pool can briefly refill a folder being removed.
      for (const p of live) rmSync(p, { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
    });
  }
  let seq = 0;
  return {
    path,
    async write(name, content, mode = 0o600) {
      if (name.includes('/') || name.startsWith('.')) throw new Error(`invalid private file name: ${name}`);
      const target = join(path, name);
      const tmp = join(path, `.tmp-${process.pid}-${seq++}`);
      await writeFile(tmp, content, { mode });
      await rename(tmp, target);
      return target;
    },
    async remove() {
      await rm(path, { recursive: true, force: true });
      live.delete(path);
    },
  };
}
