import { CLIENT_KINDS } from '../model/index.js';
import type { MeshMode, MtlsMode, PortProtocol, ScenarioMode } from '../model/index.js';
import { k8sNames } from './k8s-names.js';
import { schemaCheck } from './schema-check.js';

export const SCENARIO_API_VERSION = 'meshconform.dev/v1alpha1';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const label = { type: 'string', pattern: k8sNames.dns1123Label.source, description: k8sNames.labelDescription } as const;
const subdomain = {
  type: 'string',
  pattern: k8sNames.dns1123Subdomain.source,
  description: k8sNames.subdomainDescription,
} as const;
const portNumber = { type: 'integer', minimum: 1, maximum: 65535 } as const;

/** Keys of an `expect` entry that state an outcome: every client kind, plus the `plaintext`/`mtls` shorthands. */
export const OUTCOME_KEYS: readonly string[] = ['plaintext', 'mtls', ...CLIENT_KINDS];
const outcome = { enum: ['allow', 'deny', 'passthrough'] } as const;

/** Top level of a scenario file; the list items are checked one by one with the schemas below. */
export const scenarioSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: SCENARIO_API_VERSION },
    kind: { const: 'Scenario' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      properties: { name: subdomain, labels: stringMap },
    },
    spec: {
      type: 'object',
      required: ['workloads'],
      additionalProperties: false,
      properties: {
        description: { type: 'string' },
        mode: { enum: ['sidecar', 'ambient', 'both'] },
        rootNamespace: label,
        trustDomain: {
          type: 'string',
          pattern: '^[a-z0-9._-]+$',
          description: 'a SPIFFE trust domain: lowercase letters, digits, ".", "-" and "_"',
        },
        workloads: { type: 'array', minItems: 1, items: { type: 'object' } },
        policies: { type: 'array', items: { type: 'object' } },
        expect: { type: 'array', items: { type: 'object' } },
        chaos: { type: 'object' },
        steps: {
          type: 'array',
          maxItems: 0,
          description: 'steps are not supported yet: only `steps: []` is accepted in this version',
        },
      },
    },
  },
} as const;

export const workloadSchema = {
  type: 'object',
  required: ['name', 'ports'],
  additionalProperties: false,
  properties: {
    name: label,
    namespace: label,
    labels: stringMap,
    serviceAccount: subdomain,
    ports: {
      type: 'array',
      minItems: 1,
      items: {
        if: { type: 'object' },
        then: {
          type: 'object',
          required: ['port'],
          additionalProperties: false,
          properties: { port: portNumber, protocol: { enum: ['tcp', 'http'] } },
        },
        else: { ...portNumber, description: 'a port number 1-65535, or { port: 1-65535, protocol: tcp|http }' },
      },
    },
  },
} as const;

export const expectSchema = {
  type: 'object',
  required: ['workload'],
  additionalProperties: false,
  properties: {
    workload: { type: 'string', pattern: '^[^/]+/[^/]+$', description: 'a workload key "namespace/name"' },
    port: portNumber,
    meshMode: { enum: ['sidecar', 'ambient'] },
    mode: { enum: ['STRICT', 'PERMISSIVE', 'DISABLE'] },
    ...Object.fromEntries(OUTCOME_KEYS.map((k) => [k, outcome])),
  },
} as const;

export interface RawScenario {
  apiVersion: typeof SCENARIO_API_VERSION;
  kind: 'Scenario';
  metadata?: { name?: string; labels?: Record<string, string> };
  spec: {
    description?: string;
    mode?: ScenarioMode;
    rootNamespace?: string;
    trustDomain?: string;
    workloads: unknown[];
    policies?: unknown[];
    expect?: unknown[];
    chaos?: unknown;
    steps?: unknown[];
  };
}

export interface RawWorkload {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  ports: (number | { port: number; protocol?: PortProtocol })[];
}

export interface RawExpect {
  workload: string;
  port?: number;
  meshMode?: MeshMode;
  mode?: MtlsMode;
  [outcome: string]: unknown;
}

export const scenarioCheck = schemaCheck<RawScenario>(scenarioSchema);
export const workloadCheck = schemaCheck<RawWorkload>(workloadSchema);
export const expectCheck = schemaCheck<RawExpect>(expectSchema);
