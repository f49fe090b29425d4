#!/usr/bin/env node
// The engine is TypeScript run through tsx, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Undici keep-alive pools or a stuck socket must not keep a finished run alive.
process.stdout.write('', () => process.exit(code));
