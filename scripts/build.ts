// `npm run build` (and `prepare`, which `npm ci` and `npm pack` run): compiles src/ to dist/ for Node, one module per
// source file, bundles the HTML report's page script, and bundles the probe agent (src/agent) into
// harness/probe-agent/probe-agent.mjs, the one file the probe pod runs. Only changed files are rewritten, each by
// rename, so a CLI started while a build runs never reads half a file. `--clean` removes dist/ and the agent first.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_BUNDLE, bundleProbeAgent } from '../src/backend/kube/agent-bundle.js';
import { bundleReportScript } from '../src/report/html/report-script.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const DIST = join(root, 'dist');
const STAMP = '.built';
// The page script runs in the browser: bundled on its own, never loaded by Node.
const PAGE_SCRIPT_DIR = join(src, 'report/html/assets');

/** Every file under `dir`, recursively. */
export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

let written = 0;
/** Writes `file` only if its content differs, through a temporary file and a rename. */
function put(file: string, content: string | Uint8Array): void {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (existsSync(file) && readFileSync(file).equals(bytes)) return;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  written++;
}

/** Compiles src/ into dist/; returns how many files it rewrote. */
export async function buildDist(options: { clean?: boolean } = {}): Promise<number> {
  written = 0;
  // The stamp carries the time the build read src/: an edit made during the build still counts as newer.
  const started = new Date();
  if (options.clean) {
    rmSync(DIST, { recursive: true, force: true });
    rmSync(join(root, 'harness', AGENT_BUNDLE), { force: true });
  }
  // First: should it fail, the stale agent is gone before anything else can stop the build.
  if (await bundleProbeAgent(root)) written++;
  const files = walk(src);
  const modules = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith(PAGE_SCRIPT_DIR));
  const out = await build({
    entryPoints: modules,
    outbase: src,
    outdir: DIST,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: false,
    write: false,
    logLevel: 'error',
  });
  for (const f of out.outputFiles) put(f.path, f.contents);
  // Schemas and styles the compiled modules read beside themselves.
  for (const f of files) {
    if (f.endsWith('.json') || f.endsWith('.css')) {
      if (f.startsWith(PAGE_SCRIPT_DIR) && f.endsWith('tsconfig.json')) continue;
      put(join(DIST, relative(src, f)), readFileSync(f));
    }
  }
  put(join(DIST, 'report/html/assets/report.js'), bundleReportScript());
  // bin/meshconform.js compares this stamp with src/ to notice a stale build in a checkout.
  const stamp = join(DIST, STAMP);
  mkdirSync(DIST, { recursive: true });
  writeFileSync(`${stamp}.${process.pid}.tmp`, `${new Date().toISOString()}\n`);
  utimesSync(`${stamp}.${process.pid}.tmp`, started, started);
  renameSync(`${stamp}.${process.pid}.tmp`, stamp);
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const n = await buildDist({ clean: process.argv.includes('--clean') });
  console.log(`built dist/: ${n} files written in ${Math.round(performance.now() - t0)} ms`);
}
