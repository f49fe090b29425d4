// `meshconform/mocha`: scenario folders as mocha suites. The engine is TypeScript run through tsx.
import { register } from 'tsx/esm/api';

register();
export const { meshconformSuites } = await import('./src/mocha/index.ts');
