import type { PeerAuthenticationManifest } from '../model/index.js';
import { schemaCheck } from './schema-check.js';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const modeHolder = {
  type: ['object', 'null'],
  additionalProperties: false,
  // The value set is an admission rule (validateAdmission), so the message can use Istio's wording.
  properties: { mode: {} },
} as const;

/**
 * Structure of a PeerAuthentication manifest: what `kubectl apply` takes and what `kubectl get -o yaml` prints.
 * Metadata may carry any server-set field; `status` is ignored; `spec` is closed, like the CRD's structural schema.
 */
export const manifestSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata'],
  additionalProperties: false,
  properties: {
    apiVersion: { enum: ['security.istio.io/v1', 'security.istio.io/v1beta1'] },
    kind: { const: 'PeerAuthentication' },
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: true,
      properties: {
        name: { type: 'string', minLength: 1 },
        namespace: { type: 'string', minLength: 1 },
        creationTimestamp: { type: 'string' },
        labels: stringMap,
        annotations: stringMap,
      },
    },
    spec: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        selector: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { matchLabels: { type: ['object', 'null'], additionalProperties: { type: 'string' } } },
        },
        mtls: modeHolder,
        portLevelMtls: { type: ['object', 'null'], additionalProperties: modeHolder },
      },
    },
    status: {},
  },
} as const;

/** A `kind: List` of manifests, as `kubectl get peerauthentication -A -o yaml` prints. */
export const listSchema = {
  type: 'object',
  required: ['kind', 'items'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'v1' },
    kind: { const: 'List' },
    metadata: { type: 'object' },
    items: { type: 'array' },
  },
} as const;

/** `{ file: relative/path.yaml }`: policies kept in another file, relative to the scenario file. */
export const fileRefSchema = {
  type: 'object',
  required: ['file'],
  additionalProperties: false,
  properties: { file: { type: 'string', minLength: 1 } },
} as const;

export const manifestCheck = schemaCheck<PeerAuthenticationManifest>(manifestSchema);
export const listCheck = schemaCheck<{ kind: 'List'; items: unknown[] }>(listSchema);
export const fileRefCheck = schemaCheck<{ file: string }>(fileRefSchema);
