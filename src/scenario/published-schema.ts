import { chaosSchema, stepSchema } from './chaos-schema.js';
import { fileRefSchema, listSchema, manifestSchema } from './policy-schema.js';
import { expectSchema, SCENARIO_API_VERSION, scenarioSchema, workloadSchema } from './scenario-schema.js';

/** Where the published schema lives in the repository and the package (`npm run schema` writes it). */
export const PUBLISHED_SCENARIO_SCHEMA_PATH = 'schemas/scenario.schema.json';

/** A policy entry: `{ file: … }`, a `kind: List` of manifests, or one PeerAuthentication manifest. */
const policyItem = {
  if: { type: 'object', required: ['file'] },
  then: fileRefSchema,
  else: {
    if: { type: 'object', required: ['kind'], properties: { kind: { const: 'List' } } },
    then: { ...listSchema, properties: { ...listSchema.properties, items: { type: 'array', items: manifestSchema } } },
    else: manifestSchema,
  },
};

/**
 * The JSON Schema for editors (`# yaml-language-server: $schema=…`), composed from the loader's own schemas: the
 * loader checks the top level and each list item with separate schemas; here they are nested into one document.
 * What the loader checks beyond structure (admission rules, names that must resolve, file references) is not in it.
 */
export function publishedScenarioSchema(): Record<string, unknown> {
  const spec = scenarioSchema.properties.spec;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://meshconform.dev/schemas/scenario.schema.json',
    title: `meshconform Scenario (${SCENARIO_API_VERSION})`,
    description: 'A meshconform scenario file. Generated from the loader (src/scenario) by `npm run schema`; do not edit.',
    ...scenarioSchema,
    properties: {
      ...scenarioSchema.properties,
      spec: {
        ...spec,
        properties: {
          ...spec.properties,
          workloads: { ...spec.properties.workloads, items: workloadSchema },
          policies: { ...spec.properties.policies, items: policyItem },
          expect: { ...spec.properties.expect, items: expectSchema },
          chaos: {
            ...chaosSchema,
            properties: {
              ...chaosSchema.properties,
              policySets: { ...chaosSchema.properties.policySets, additionalProperties: { type: 'array', items: policyItem } },
              steps: { ...chaosSchema.properties.steps, items: stepSchema },
            },
          },
        },
      },
    },
  };
}

/** The file's exact text: two-space JSON and a final newline. */
export function publishedScenarioSchemaText(): string {
  return `${JSON.stringify(publishedScenarioSchema(), null, 2)}\n`;
}
