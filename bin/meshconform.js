#!/usr/bin/env node
// Runs the compiled CLI (dist/, which `npm ci` builds through `prepare`). In a checkout whose src/ changed after the
// last build (or with MESHCONFORM_FROM_SOURCE=1) it runs src/ through tsx instead, slower but never stale; an
// installed package has no src/ and always runs dist/.
import { loadEngine } from './dev-source.js';

// Specifiers as URLs: the type check reads src/, never the build output.
const { main } = await loadEngine(new URL('../src/cli/main.ts', import.meta.url), new URL('../dist/cli/main.js', import.meta.url));
const code = await main(process.argv.slice(2));
// Undici keep-alive pools or a stuck socket must not keep a finished run alive.
process.stdout.write('', () => process.exit(code));
