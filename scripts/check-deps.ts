// Checks the one-direction import rules of docs/architecture.md#folders-and-import-rules over every source file; exits 1 naming each violation.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

// The tree to check: this repository, or another one given as the first argument (the rule tests use a small one).
const root = process.argv[2] ? resolve(process.argv[2]) : resolve(dirname(new URL(import.meta.url).pathname), '..');
const STAGES = ['scenario', 'oracle', 'pki', 'backend', 'probe', 'diff', 'chaos', 'report'];

/** Which top-level areas a file in `area` may import. */
function allowed(area: string): string[] {
  if (area === 'src/model') return ['src/model'];
  if (area === 'src/util') return ['src/model', 'src/util'];
  if (STAGES.some((s) => area === `src/${s}`)) return [area, 'src/model', 'src/util'];
  if (area === 'src/run') return ['src/run', 'src/model', 'src/util', ...STAGES.map((s) => `src/${s}`)];
  if (area === 'src/mocha') return ['src/mocha', 'src/run', 'src/model', 'src/util', ...STAGES.map((s) => `src/${s}`)];
  // The probe agent's entry (bundled into harness/probe-agent/probe-agent.mjs): the probes, and nothing of the host's.
  if (area === 'src/agent') return ['src/agent', 'src/probe', 'src/model', 'src/util'];
  if (area === 'src/cli') return ['src/cli', 'src/run', 'src/model', 'src/util', ...STAGES.map((s) => `src/${s}`)];
  if (area === 'harness') return ['harness'];
  throw new Error(`no import rule for ${area}`);
}

function areaOf(file: string): string {
  const rel = relative(root, file).split(sep);
  return rel[0] === 'src' ? `src/${rel[1]}` : rel[0]!;
}

/** The backend folder of a file under src/backend (`local`, `netns`, `docker`, `kube`, `common`), or undefined. */
function backendOf(file: string): string | undefined {
  const rel = relative(root, file).split(sep);
  return rel[0] === 'src' && rel[1] === 'backend' && rel.length > 3 ? rel[2] : undefined;
}

/** Inside src/backend: a backend never imports another backend; `common` serves them all and imports none. */
function backendViolation(file: string, target: string): string | undefined {
  const from = backendOf(file);
  const to = backendOf(target);
  if (to === undefined || to === from || to === 'common') return undefined;
  return from === undefined ? undefined : `src/backend/${from} must not import src/backend/${to}`;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return /\.(ts|mjs|js)$/.test(name) ? [p] : [];
  });
}

const files = [...walk(join(root, 'src')), ...walk(join(root, 'harness'))];
const importRe = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
const violations: string[] = [];
for (const file of files) {
  const area = areaOf(file);
  const ok = allowed(area);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith('.')) {
      // harness/ runs inside environments with nothing but Node: built-ins only.
      if (area === 'harness' && !spec.startsWith('node:')) violations.push(`${relative(root, file)}: harness may import only node: built-ins, not "${spec}"`);
      continue;
    }
    const resolved = resolve(dirname(file), spec);
    const target = areaOf(resolved);
    const line = text.slice(0, m.index).split('\n').length;
    if (!ok.includes(target)) violations.push(`${relative(root, file)}:${line}: ${area} must not import ${target} ("${spec}")`);
    const inner = backendViolation(file, resolved);
    if (inner) violations.push(`${relative(root, file)}:${line}: ${inner} ("${spec}")`);
  }
}
if (violations.length > 0) {
  console.error(`import rules violated (docs/architecture.md):\n${violations.join('\n')}`);
  process.exit(1);
}
console.log(`import rules: ${files.length} files checked, no violations`);
