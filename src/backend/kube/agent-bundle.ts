import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { BackendError } from '../../util/errors.js';

/**
 * The probe agent as the probe pod runs it: src/agent bundled into one file that needs only Node, generated (never
 * committed) under harness/ and shipped at the same path under the pod's harness folder. `npm run build` writes it;
 * an installed package carries it.
 */
export const AGENT_BUNDLE = 'probe-agent/probe-agent.mjs';
const AGENT_ENTRY = 'src/agent/main.ts';
/** What the bundle is built from: src/agent and the folders it may import (scripts/check-deps.ts), and the lock file (undici). */
const AGENT_INPUTS = ['src/agent', 'src/probe', 'src/model', 'src/util', 'package-lock.json'];
/** A ConfigMap holds at most 1 MiB; the agent's shares it with nothing else, but leaves room for its metadata. */
const MAX_BUNDLE_BYTES = 960 * 1024;
const BANNER = [
  '// @ts-nocheck',
  '// Generated from src/agent by the build (src/backend/kube/agent-bundle.ts): the meshconform probe agent. Never edit; never commit.',
  // The bundled CommonJS (undici) calls require() for Node built-ins, which an ES module has not got by itself.
  "import { createRequire as __agentCreateRequire } from 'node:module';",
  'const require = __agentCreateRequire(import.meta.url);',
].join('\n');

/** The repository of a harness folder when it is a checkout (src/ beside it); `undefined` for an installed package. */
function checkoutOf(harnessDir: string): string | undefined {
  const root = join(harnessDir, '..');
  return existsSync(join(root, AGENT_ENTRY)) ? root : undefined;
}

/** Newest modification time of the inputs (a missing one counts as new: it was just deleted or renamed). */
function newestInput(root: string): number {
  let newest = 0;
  const visit = (p: string) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  for (const input of AGENT_INPUTS) visit(join(root, input));
  return newest;
}

/** Whether the bundle in `root`'s harness/ is missing or older than any of its inputs. */
export function probeAgentIsStale(root: string): boolean {
  const built = statSync(join(root, 'harness', AGENT_BUNDLE), { throwIfNoEntry: false });
  return !built || newestInput(root) > built.mtimeMs;
}

const inFlight = new Map<string, Promise<void>>();

/**
 * Bundles src/agent into harness/probe-agent/probe-agent.mjs of the checkout `root` with esbuild (a development
 * dependency: only a checkout builds). The file is replaced by a rename, so a reader never sees half of it, and its
 * time is set to when the build read its inputs, so an edit made meanwhile still counts as newer. On failure the old
 * bundle is removed: a stale agent is never used by mistake. Returns whether the content changed.
 */
export async function bundleProbeAgent(root: string): Promise<boolean> {
  const out = join(root, 'harness', AGENT_BUNDLE);
  const started = new Date();
  try {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [join(root, AGENT_ENTRY)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Small enough for its ConfigMap. Identifiers are not shortened: short generated names can look like rule
      // references to the docs checks; `keepNames` keeps the error class names a rename on a collision would change.
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      banner: { js: BANNER },
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    checkSelfContained(result.metafile);
    const bytes = Buffer.from(result.outputFiles[0]!.contents);
    if (bytes.length > MAX_BUNDLE_BYTES) throw new Error(`${bytes.length} bytes, more than the ${MAX_BUNDLE_BYTES} its ConfigMap can carry`);
    const changed = !existsSync(out) || !readFileSync(out).equals(bytes);
    if (changed) {
      mkdirSync(dirname(out), { recursive: true });
      const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      writeFileSync(tmp, bytes);
      utimesSync(tmp, started, started);
      renameSync(tmp, out);
    } else {
      utimesSync(out, started, started);
    }
    return changed;
  } catch (err) {
    rmSync(out, { force: true });
    throw new BackendError(`cannot build the probe agent (${AGENT_ENTRY} into harness/${AGENT_BUNDLE}): ${(err as Error).message}`, { cause: err });
  }
}

/** Nothing left to import but Node built-ins (a `node:` name is one even where this Node lacks it, as undici's lazy node:sqlite). */
function checkSelfContained(metafile: import('esbuild').Metafile): void {
  for (const output of Object.values(metafile.outputs)) {
    const foreign = output.imports.filter((i) => i.external && !i.path.startsWith('node:') && !isBuiltin(i.path)).map((i) => i.path);
    if (foreign.length > 0) throw new Error(`the bundle would still import ${foreign.join(', ')}: the probe pod has nothing but Node`);
  }
}

/**
 * The probe agent's file in `harnessDir`, current: in a checkout (tests, runs from source) it is rebuilt first when
 * missing or older than its inputs; an installed package's is used as shipped.
 */
export async function ensureProbeAgent(harnessDir: string): Promise<string> {
  const file = join(harnessDir, AGENT_BUNDLE);
  const root = checkoutOf(harnessDir);
  if (root !== undefined && probeAgentIsStale(root)) {
    // One build at a time in this process; other processes race harmlessly (each replaces the file whole).
    let pending = inFlight.get(root);
    if (!pending) {
      pending = bundleProbeAgent(root)
        .then(() => undefined)
        .finally(() => inFlight.delete(root));
      inFlight.set(root, pending);
    }
    await pending;
  }
  if (!existsSync(file)) throw new BackendError(`the probe agent ${file} is missing: this package was not built (npm run build)`);
  return file;
}
