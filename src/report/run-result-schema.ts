import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { RunResult } from '../model/index.js';

/** Where the JSON Schema of report.json lives (shipped beside this file). */
export const RUN_RESULT_SCHEMA_URL = new URL('./schemas/run-result.schema.json', import.meta.url);

let compiled: ValidateFunction | undefined;

/** The RunResult JSON Schema (draft 2020-12) as an object. */
export function runResultSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(RUN_RESULT_SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

export type RunResultValidation = { readonly valid: true; readonly value: RunResult } | { readonly valid: false; readonly errors: readonly string[] };

/** Checks a parsed report.json (for example last night's, before a comparison) against the schema. */
export function validateRunResult(value: unknown): RunResultValidation {
  if (!compiled) {
    const Ajv2020 = Ajv2020Module.default;
    compiled = new Ajv2020({ allErrors: true, strict: true }).compile(runResultSchema());
  }
  if (compiled(value)) return { valid: true, value: value as RunResult };
  return { valid: false, errors: (compiled.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`) };
}
