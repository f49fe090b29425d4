import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import type Dockerode from 'dockerode';
import { BackendError } from '../../util/errors.js';
import { createPrivateDir } from '../../util/private-dir.js';

/** Repository of the images built here; the tag is the content hash. */
export const HARNESS_IMAGE_REPO = 'meshconform/node-harness';
/** Where the harness folder lives inside every workload container. */
export const CONTAINER_HARNESS_DIR = '/meshconform/harness';
/** Bumped when the image layout changes, so an old cached image is never reused for a new layout. */
const RECIPE = 'meshconform-node-harness/1';

export interface HarnessImage {
  readonly ref: string;
  /** false when the tag already existed in the engine (cache hit). */
  readonly built: boolean;
  readonly ms: number;
}

interface Entry {
  /** Absolute path inside the image. */
  readonly target: string;
  /** File on the host to copy (symlinks resolved, as `cp -L`). */
  readonly source: string;
  readonly mode: number;
}

/**
 * The workload image, built locally and never pulled (docs/backends.md#docker-backend): the host's node binary and the shared
 * libraries `ldd` lists for it, plus the harness folder, imported as a single-layer image. Tagged by a hash of
 * every file's content, so a changed harness file or node binary gives a new tag and an unchanged one is reused.
 */
export async function ensureHarnessImage(docker: Dockerode, harnessDir: string): Promise<HarnessImage> {
  const t0 = Date.now();
  const entries = [...(await nodeRuntimeEntries()), ...(await harnessEntries(harnessDir))];
  const ref = `${HARNESS_IMAGE_REPO}:${await contentHash(entries)}`;
  if (await imageExists(docker, ref)) return { ref, built: false, ms: Date.now() - t0 };
  // Recorded for `meshconform reap` and removed on a forced exit, like every temporary folder of a run.
  const dir = await createPrivateDir('meshconform-image-');
  const stage = dir.path;
  try {
    for (const e of entries) {
      const to = join(stage, e.target);
      await mkdir(dirname(to), { recursive: true });
      await copyFile(e.source, to);
      await chmod(to, e.mode);
    }
    await mkdir(join(stage, 'tmp'), { recursive: true });
    await chmod(join(stage, 'tmp'), 0o1777);
    await mkdir(join(stage, 'etc'), { recursive: true });
    await writeFile(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(join(stage, 'etc/hosts'), '127.0.0.1 localhost\n');
    await importTree(docker, stage, ref);
  } finally {
    await dir.remove();
  }
  return { ref, built: true, ms: Date.now() - t0 };
}

/** True when the engine has `ref` locally (never pulls). */
export async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw new BackendError(`cannot inspect image ${ref}: ${(err as Error).message}`, { cause: err });
  }
}

/** node (placed at /usr/local/bin/node so it is on PATH wherever the host keeps it) and its libraries at their own paths. */
async function nodeRuntimeEntries(): Promise<Entry[]> {
  const node = await realpath(process.execPath);
  let out: string;
  try {
    out = (await execa('ldd', [node])).stdout;
  } catch (err) {
    throw new BackendError(`cannot list the shared libraries of ${node} with ldd (needed to build the workload image): ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const libs = [...new Set(out.match(/\/[^\s)]+/g) ?? [])];
  const entries: Entry[] = [{ target: '/usr/local/bin/node', source: node, mode: 0o755 }];
  for (const lib of libs) entries.push({ target: lib, source: await realpath(lib), mode: 0o755 });
  return entries;
}

async function harnessEntries(harnessDir: string): Promise<Entry[]> {
  const files = await walk(harnessDir);
  if (!files.some((f) => f.endsWith('container/entrypoint.mjs'))) {
    throw new BackendError(`${harnessDir} has no container/entrypoint.mjs: not a meshconform harness folder`);
  }
  return files.map((f) => ({ target: `${CONTAINER_HARNESS_DIR}/${relative(harnessDir, f)}`, source: f, mode: 0o644 }));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await walk(p)));
    else if (d.isFile() || (d.isSymbolicLink() && (await stat(p)).isFile())) out.push(p);
  }
  return out;
}

async function contentHash(entries: readonly Entry[]): Promise<string> {
  const h = createHash('sha256').update(`${RECIPE}\n`);
  const sorted = [...entries].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  for (const e of sorted) h.update(`${e.target}\0${e.mode.toString(8)}\0${await fileHash(e.source)}\n`);
  return h.digest('hex').slice(0, 16);
}

function fileHash(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** `tar -C stage -c . | docker import -c … - ref`, through the engine API (no docker CLI needed). */
async function importTree(docker: Dockerode, stage: string, ref: string): Promise<void> {
  const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const tar = execa('tar', ['-C', stage, '-c', '.'], { buffer: { stdout: false, stderr: true }, reject: false });
  try {
    const res = (await docker.importImage(
      tar.stdout as unknown as NodeJS.ReadableStream,
      {
        repo,
        tag,
        changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'WORKDIR /meshconform', 'LABEL meshconform.image=node-harness'],
      } as Record<string, unknown>,
    )) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(res, (err, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err ?? output.find((o) => o.error)?.error;
        if (failed) reject(failed instanceof Error ? failed : new Error(String(failed)));
        else resolve();
      });
    });
  } catch (err) {
    throw new BackendError(`cannot import the workload image ${ref} into the Docker engine: ${(err as Error).message}`, { cause: err });
  }
  const r = await tar;
  if (r.exitCode !== 0) throw new BackendError(`tar failed while building the workload image: ${String(r.stderr).trim()}`);
  if (!(await imageExists(docker, ref))) throw new BackendError(`the engine accepted the import but has no image ${ref}`);
}
