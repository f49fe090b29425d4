import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
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
  const path = await mkdtemp(join(tmpdir(), prefix));
  live.add(path);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) rmSync(p, { recursive: true, force: true });
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
