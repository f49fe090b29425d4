// `npm run schema`: writes schemas/scenario.schema.json from the loader's schemas (a test checks it is up to date).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLISHED_SCENARIO_SCHEMA_PATH, publishedScenarioSchemaText } from '../src/scenario/published-schema.js';

const file = join(fileURLToPath(new URL('..', import.meta.url)), PUBLISHED_SCENARIO_SCHEMA_PATH);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, publishedScenarioSchemaText());
console.log(`wrote ${PUBLISHED_SCENARIO_SCHEMA_PATH}`);
