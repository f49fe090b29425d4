// Checks the one-direction import rules of docs/architecture.md#folders-and-import-rules over every source file; exits 1 naming each violation.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
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
    const target = areaOf(resolve(dirname(file), spec));
    if (!ok.includes(target)) {
      const line = text.slice(0, m.index).split('\n').length;
      violations.push(`${relative(root, file)}:${line}: ${area} must not import ${target} ("${spec}")`);
    }
  }
}
if (violations.length > 0) {
  console.error(`import rules violated (docs/architecture.md):\n${violations.join('\n')}`);
  process.exit(1);
}
console.log(`import rules: ${files.length} files checked, no violations`);
