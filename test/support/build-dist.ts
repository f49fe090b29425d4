// Loaded by .mocharc.yml: brings dist/ up to date before tests spawn bin/meshconform.js, so they run the compiled
// CLI of the current source. If src/ does not compile (an edit in progress), the CLI runs src/ through tsx instead.
import { buildDist } from '../../scripts/build.js';

// scripts/test-tier.ts builds once before it starts mocha's parallel workers.
try {
  if (process.env['MESHCONFORM_TEST_DIST_BUILT'] !== '1') await buildDist();
} catch (err) {
  process.stderr.write(`warning: dist/ not rebuilt (${(err as Error).message.split('\n')[0]}); the CLI runs from src/ through tsx\n`);
}
