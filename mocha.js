// `meshconform/mocha`: scenario folders as mocha suites, from the compiled engine (or, in a checkout whose src/ is
// newer than its build, from src/ through tsx; see bin/meshconform.js).
import { loadEngine } from './bin/dev-source.js';

const mod = await loadEngine(new URL('./src/mocha/index.ts', import.meta.url), new URL('./dist/mocha/index.js', import.meta.url));
export const meshconformSuites = mod.meshconformSuites;
