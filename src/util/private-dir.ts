import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordDir } from './run-state.js';

/** A 0700 temporary folder for key material and configs; files are written 0600 unless told otherwise. */
export interface PrivateDir {
  readonly path: string;
  /** Writes `name` atomically (temp file + rename) and returns its absolute path. */
  write(name: string, content: string, mode?: number): Promise<string>;
  /** Creates the 0700 sub-folder `name` (if missing) and returns its absolute path. */
  mkdir(name: string): Promise<string>;
  remove(): Promise<void>;
}

// Paths not yet removed: a forced exit (a second Ctrl-C, process.exit) still deletes them, synchronously, on the way out.
const live = new Set<string>();
let exitHook = false;

/** Removes `path` even on a forced exit, until the returned function is called. */
export function removeOnExit(path: string): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      // Retries: a write still in flight on the thread pool can briefly refill a folder being removed.
      for (const p of live) removeKeysFirstSync(p);
    });
  }
  live.add(path);
  return () => live.delete(path);
}

export async function createPrivateDir(prefix = 'meshconform-'): Promise<PrivateDir> {
  // Synchronous on purpose: a folder created by a thread-pool call still in flight at a forced exit would escape
  // the exit hook.
  const path = mkdtempSync(join(tmpdir(), prefix));
  const keep = removeOnExit(path);
  // Recorded for `meshconform reap`: a run killed with SIGKILL cannot remove it itself.
  const forget = recordDir(path);
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
    async mkdir(name) {
      if (name.includes('/') || name.startsWith('.')) throw new Error(`invalid private folder name: ${name}`);
      const target = join(path, name);
      await mkdir(target, { mode: 0o700, recursive: true });
      return target;
    },
    async remove() {
      await removeKeysFirst(path);
      keep();
      forget();
    },
  };
}

/** Private key files (by name), anywhere in the folder: removed before the rest, so an interrupted removal leaves no key. */
const KEY_FILE = /key|\.pem$/i;

/** Removes `path`, its key files first. */
export async function removeKeysFirst(path: string): Promise<void> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true }).catch(() => []);
  await Promise.all(entries.filter((e) => e.isFile() && KEY_FILE.test(e.name)).map((e) => rm(join(e.parentPath, e.name), { force: true })));
  await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
}

export function removeKeysFirstSync(path: string): void {
  let entries: import('node:fs').Dirent[] = [];
  try {
    // A symlink (outputs' `latest` in the making) is removed itself, never followed into its target.
    if (!lstatSync(path).isSymbolicLink()) entries = readdirSync(path, { recursive: true, withFileTypes: true });
  } catch {
    // gone
  }
  for (const e of entries) if (e.isFile() && KEY_FILE.test(e.name)) rmSync(join(e.parentPath, e.name), { force: true });
  rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
}
