#!/usr/bin/env node
// Runs the compiled CLI (dist/, which `npm ci` builds through `prepare`). In a checkout whose src/ changed after the
// last build (or with MESHCONFORM_FROM_SOURCE=1) it runs src/ through tsx instead, slower but never stale; an
// installed package has no src/ and always runs dist/.
import { devSourceIsNewer } from './dev-source.js';

let main;
if (process.env.MESHCONFORM_FROM_SOURCE === '1' || devSourceIsNewer()) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  // A computed specifier: the type check reads src/, never the build output.
  const compiled = '../dist/cli/main.js';
  ({ main } = await import(compiled));
}
const code = await main(process.argv.slice(2));
// Undici keep-alive pools or a stuck socket must not keep a finished run alive.
process.stdout.write('', () => process.exit(code));
