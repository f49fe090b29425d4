import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import type { MeshMode, ScenarioResult } from '../model/index.js';
import { readTextFile } from '../util/read-text-file.js';
import { ReportInputError } from './report-input-error.js';

/** A conformance profile: a named set of scenarios, selected by feature and mesh mode. */
export interface ConformanceProfile {
  readonly name: string;
  readonly description: string;
  /** Scenario features in the profile; absent: every feature. */
  readonly features?: readonly string[];
  /** Mesh modes in the profile; absent: both. */
  readonly meshModes?: readonly MeshMode[];
}

export const PROFILES_API_VERSION = 'meshconform.dev/v1alpha1';

/** The built-in profile definitions, shipped with the suite. */
export const DEFAULT_PROFILES_FILE = fileURLToPath(new URL('../../scenarios/profiles.yaml', import.meta.url));

const schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'profiles'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: PROFILES_API_VERSION },
    kind: { const: 'ConformanceProfiles' },
    profiles: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
          description: { type: 'string' },
          features: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
          meshModes: { type: 'array', items: { enum: ['sidecar', 'ambient'] }, uniqueItems: true },
        },
      },
    },
  },
} as const;

const validate = new Ajv2020Module.default({ allErrors: true, strict: true }).compile(schema);

/** Parses and checks a profiles file's text; `file` names it in errors. */
export function parseProfiles(text: string, file: string): ConformanceProfile[] {
  let value: unknown;
  try {
    value = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new ReportInputError(file, `not valid YAML: ${(err as Error).message.split('\n')[0]!.trim()}`, { cause: err });
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new ReportInputError(file, `not a ConformanceProfiles file: ${problems.join('; ')}`);
  }
  const raw = (value as { profiles: { name: string; description?: string; features?: string[]; meshModes?: MeshMode[] }[] }).profiles;
  const seen = new Set<string>();
  for (const p of raw) {
    if (seen.has(p.name)) throw new ReportInputError(file, `profile ${JSON.stringify(p.name)} is defined twice`);
    seen.add(p.name);
  }
  return raw.map((p) => ({
    name: p.name,
    description: p.description ?? '',
    ...(p.features ? { features: p.features } : {}),
    ...(p.meshModes ? { meshModes: p.meshModes } : {}),
  }));
}

export async function loadProfiles(file: string = DEFAULT_PROFILES_FILE): Promise<ConformanceProfile[]> {
  let text: string;
  try {
    text = await readTextFile(file); // bounded: a FIFO or /dev/zero must not hang the run or fill memory
  } catch (err) {
    throw new ReportInputError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseProfiles(text, file);
}

/** The built-in profiles, read synchronously (for reporters given none). */
export function defaultProfiles(): ConformanceProfile[] {
  return parseProfiles(readFileSync(DEFAULT_PROFILES_FILE, 'utf8'), DEFAULT_PROFILES_FILE);
}

export function inProfile(p: ConformanceProfile, s: Pick<ScenarioResult, 'feature' | 'meshMode'>): boolean {
  return (p.features === undefined || p.features.includes(s.feature)) && (p.meshModes === undefined || p.meshModes.includes(s.meshMode));
}
