import Ajv2020Module from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { readTextFile } from '../util/read-text-file.js';
import { ReportInputError } from './report-input-error.js';

/** Who made the data plane under test: the vendor's claim in the conformance report. */
export interface ImplementationInfo {
  readonly name?: string;
  readonly version?: string;
  readonly organization?: string;
  readonly url?: string;
  /** Where to reach the people responsible: e-mail addresses, GitHub handles, issue trackers. */
  readonly contact?: readonly string[];
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    version: { type: 'string', minLength: 1 },
    organization: { type: 'string', minLength: 1 },
    url: { type: 'string', minLength: 1 },
    contact: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string', minLength: 1 } },
      ],
    },
  },
} as const;

const validate = new Ajv2020Module.default({ allErrors: true, strict: true }).compile(schema);

/** Reads an `--impl-options` YAML file: `{ name, version, organization, url, contact }` (contact: one or a list). */
export async function loadImplementationInfo(file: string): Promise<ImplementationInfo> {
  let text: string;
  try {
    text = await readTextFile(file); // bounded: a FIFO or /dev/zero must not hang the run or fill memory
  } catch (err) {
    throw new ReportInputError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = parse(text, { uniqueKeys: true, maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ReportInputError(file, `not valid YAML: ${firstLine(err)}`, { cause: err });
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new ReportInputError(file, `not an implementation options file (name, version, organization, url, contact): ${problems.join('; ')}`);
  }
  const v = value as { name?: string; version?: string; organization?: string; url?: string; contact?: string | string[] };
  const { contact, ...rest } = v;
  return { ...rest, ...(contact !== undefined ? { contact: typeof contact === 'string' ? [contact] : contact } : {}) };
}

// The yaml package appends a source excerpt on further lines; one line suits a CLI message.
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();

/** `over` wins field by field (flags over the options file). */
export function mergeImplementationInfo(base: ImplementationInfo, over: ImplementationInfo): ImplementationInfo {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as ImplementationInfo;
}
