import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { CONFORMANCE_SCHEMA_URL } from './conformance-reporter.js';

let compiled: ValidateFunction | undefined;

/** Checks a parsed conformance.yaml against its published JSON Schema; returns the problems (empty when valid). */
export function validateConformanceReport(value: unknown): string[] {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(CONFORMANCE_SCHEMA_URL, 'utf8')) as Record<string, unknown>;
    compiled = new Ajv2020Module.default({ allErrors: true, strict: true }).compile(schema);
  }
  if (compiled(value)) return [];
  return (compiled.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
