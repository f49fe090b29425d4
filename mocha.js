// `meshconform/mocha`: scenario folders as mocha suites, from the compiled engine (or, in a checkout whose src/ is
// newer than its build, from src/ through tsx; see bin/meshconform.js).
import { devSourceIsNewer } from './bin/dev-source.js';

let mod;
if (process.env.MESHCONFORM_FROM_SOURCE === '1' || devSourceIsNewer()) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./src/mocha/index.ts');
} else {
  const compiled = './dist/mocha/index.js'; // computed: the type check reads src/, not the build
  mod = await import(compiled);
}
export const meshconformSuites = mod.meshconformSuites;
