// `npm run test:unit | test:integration | test:live`: runs mocha on the test files of one tier (test/tiers.ts).
// Mocha's output ends with "N passed, N failed" (test/support/counting-reporter.cjs); the exit code is mocha's.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARALLEL, TIERS, type Tier, tierOf } from '../test/tiers.js';
import { buildDist, walk } from './build.js';

const root = fileURLToPath(new URL('..', import.meta.url));

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
  // Built once here, so parallel workers do not each rebuild dist/ (test/support/build-dist.ts checks the variable).
  await buildDist().catch((err: Error) => console.error(`warning: dist/ not rebuilt (${err.message.split('\n')[0]}); the CLI runs from src/ through tsx`));
  // Mocha workers are processes, each running whole files; 2 even on one core, as most tests wait on child processes.
  const jobs = Math.max(2, Math.min(4, availableParallelism()));
  const parallel = PARALLEL.includes(tier) ? ['--parallel', '--jobs', String(jobs)] : [];
  console.log(`${tier} tier: ${files.length} test files${parallel.length ? `, ${jobs} in parallel` : ''}`);
  const r = spawnSync(process.execPath, [join(root, 'node_modules/mocha/bin/mocha.js'), ...parallel, ...process.argv.slice(3), ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MESHCONFORM_TEST_DIST_BUILT: '1' },
  });
  process.exit(r.status ?? 1);
}
