// `npm run test:unit | test:integration | test:live`: runs mocha on the test files of one tier (test/tiers.ts).
// Mocha's output ends with "N passed, N failed" (test/support/counting-reporter.cjs); the exit code is mocha's.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TIERS, type Tier, tierOf } from '../test/tiers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function tierFiles(tier: Tier): string[] {
  return walk(join(root, 'test'))
    .map((f) => relative(root, f).split(sep).join('/'))
    .filter((f) => f.endsWith('.test.ts') && !f.includes('/fixtures/') && tierOf(f) === tier)
    .sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const tier = process.argv[2] as Tier;
  if (!TIERS.includes(tier)) {
    console.error(`usage: test-tier.ts ${TIERS.join('|')} [mocha options]`);
    process.exit(2);
  }
  const files = tierFiles(tier);
  console.log(`${tier} tier: ${files.length} test files`);
  const r = spawnSync(process.execPath, [join(root, 'node_modules/mocha/bin/mocha.js'), ...process.argv.slice(3), ...files], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
