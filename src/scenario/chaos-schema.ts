import { DIRECT_CLIENT_KINDS, FAULT_KINDS } from '../model/index.js';
import { MAX_SEED } from '../util/seeded-random.js';
import { schemaCheck } from './schema-check.js';

/** A duration: whole milliseconds, or a string with a unit (`250ms`, `1.5s`). */
const duration = {
  if: { type: 'string' },
  then: { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s)$', description: 'a duration such as 500ms, 2s or 1.5s' },
  else: { type: 'integer', minimum: 0, description: 'a duration: whole milliseconds, or a string such as 500ms or 2s' },
} as const;
/** A clock offset may be negative (`-36h` reads as `-129600s`). */
const signedDuration = {
  if: { type: 'string' },
  then: { type: 'string', pattern: '^-?\\d+(\\.\\d+)?(ms|s|h)$', description: 'a signed duration such as -2h, 90s or 500ms' },
  else: { type: 'integer', description: 'a signed duration: whole milliseconds, or a string such as -2h' },
} as const;
const seed = { type: 'integer', minimum: 0, maximum: MAX_SEED } as const;

export const CHAOS_CLIENTS: readonly string[] = ['plaintext', 'mtls', ...DIRECT_CLIENT_KINDS];
export const CHAOS_BACKENDS: readonly string[] = ['local', 'netns', 'docker'];
/** The policy set named `initial` is the scenario's own `spec.policies`. */
export const INITIAL_POLICY_SET = 'initial';

export const chaosSchema = {
  type: 'object',
  required: ['duration'],
  additionalProperties: false,
  properties: {
    seed,
    duration,
    probeInterval: duration,
    clients: { type: 'array', minItems: 1, items: { enum: CHAOS_CLIENTS } },
    backends: { type: 'array', minItems: 1, items: { enum: CHAOS_BACKENDS } },
    policySets: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object' } } },
    steps: { type: 'array', items: { type: 'object' } },
    random: {
      type: 'object',
      required: ['count', 'faults'],
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 1, maximum: 100 },
        faults: { type: 'array', minItems: 1, items: { enum: FAULT_KINDS } },
        seed,
      },
    },
    invariants: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timeToEnforce: duration,
        recovery: duration,
        availability: { type: 'number', minimum: 0, maximum: 1 },
      },
    },
  },
} as const;

/** One entry of `chaos.steps`; which optional fields a fault takes is checked per fault by the loader. */
export const stepSchema = {
  type: 'object',
  required: ['at', 'fault'],
  additionalProperties: false,
  properties: {
    at: duration,
    fault: { enum: FAULT_KINDS },
    workload: { type: 'string', pattern: '^[^/]+/[^/]+$', description: 'a workload key "namespace/name"' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    duration,
    policySet: { type: 'string' },
    latency: duration,
    bytesPerSecond: { type: 'integer', minimum: 1 },
    percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    offset: signedDuration,
    validFor: duration,
  },
} as const;

export type RawDuration = number | string;

export interface RawChaos {
  seed?: number;
  duration: RawDuration;
  probeInterval?: RawDuration;
  clients?: string[];
  backends?: string[];
  policySets?: Record<string, unknown[]>;
  steps?: unknown[];
  random?: { count: number; faults: string[]; seed?: number };
  invariants?: { timeToEnforce?: RawDuration; recovery?: RawDuration; availability?: number };
}

export interface RawStep {
  at: RawDuration;
  fault: string;
  workload?: string;
  port?: number;
  duration?: RawDuration;
  policySet?: string;
  latency?: RawDuration;
  bytesPerSecond?: number;
  percent?: number;
  offset?: RawDuration;
  validFor?: RawDuration;
}

export const chaosCheck = schemaCheck<RawChaos>(chaosSchema);
export const stepCheck = schemaCheck<RawStep>(stepSchema);

/** Milliseconds of a schema-valid duration (rounded to whole milliseconds). */
export function durationMs(v: RawDuration): number {
  if (typeof v === 'number') return v;
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|h)$/.exec(v)!;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 3_600_000);
}
