import { Ajv } from 'ajv';
import type { AnySchema, ErrorObject, ValidateFunction } from 'ajv';
import type { Issue, PathSeg } from './diagnostics.js';

// One Ajv for every schema of the loader: all errors (the user sees every problem), the schema and data of each
// error (to say what was found and what is allowed).
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });

/** A compiled structural schema that reports problems as located issues. */
export interface SchemaCheck<T> {
  /** Issues of `value` (empty when it conforms; then `value` has type T). */
  issues(value: unknown): Issue[];
  is(value: unknown): value is T;
}

export function schemaCheck<T>(schema: AnySchema): SchemaCheck<T> {
  const validate: ValidateFunction<T> = ajv.compile<T>(schema);
  return {
    issues(value) {
      return validate(value) ? [] : toIssues(validate.errors ?? [], value);
    },
    is(value): value is T {
      return validate(value);
    },
  };
}

function toIssues(errors: readonly ErrorObject[], root: unknown): Issue[] {
  const out: Issue[] = [];
  for (const e of errors) {
    const issue = toIssue(e, pointerToPath(e.instancePath, root));
    if (issue) out.push(issue);
  }
  return out;
}

/** JSON pointer (`/spec/workloads/0`) to path segments: indices into lists become numbers, mapping keys stay strings. */
function pointerToPath(pointer: string, root: unknown): PathSeg[] {
  if (pointer === '') return [];
  const path: PathSeg[] = [];
  let node = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSeg = Array.isArray(node) ? Number(key) : key;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    path.push(seg);
  }
  return path;
}

function toIssue(e: ErrorObject, path: PathSeg[]): Issue | undefined {
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const description = typeof parent['description'] === 'string' ? parent['description'] : undefined;
  const allowed = description ? `; allowed: ${description}` : '';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if':
      return undefined; // the failing then/else branch reports the real problem
    case 'additionalProperties': {
      const prop = String(p['additionalProperty']);
      const props = Object.keys((parent['properties'] as object | undefined) ?? {});
      const list = props.length ? `; allowed fields: ${props.join(', ')}` : '';
      return { path: [...path, prop], at: 'key', message: `unknown field ${JSON.stringify(prop)}${list}` };
    }
    case 'required':
      return { path, at: 'value', message: `missing required field ${JSON.stringify(String(p['missingProperty']))}` };
    case 'type': {
      const want = String(p['type']).split(',').map(typeName).join(' or ');
      const quote = want === 'a string' && (typeof e.data === 'number' || typeof e.data === 'boolean') ? ` (quote it: "${String(e.data)}")` : '';
      return { path, at: 'value', message: `must be ${want}, not ${describe(e.data)}${quote}${allowed}` };
    }
    case 'const':
      return { path, at: 'value', message: `must be ${JSON.stringify(p['allowedValue'])}, not ${describe(e.data)}` };
    case 'enum': {
      const values = (p['allowedValues'] as unknown[]).map(String).join(', ');
      return { path, at: 'value', message: `${describe(e.data)} is not allowed; allowed: ${values}` };
    }
    case 'minimum':
    case 'maximum': {
      const min = parent['minimum'];
      const max = parent['maximum'];
      const range = min !== undefined && max !== undefined ? `${String(min)}-${String(max)}` : `${p['comparison'] as string} ${String(p['limit'])}`;
      return { path, at: 'value', message: `${describe(e.data)} is out of range; allowed: ${range}` };
    }
    case 'pattern':
      return { path, at: 'value', message: `${describe(e.data)} is not ${description ?? `matching ${String(p['pattern'])}`}` };
    case 'minLength':
      return { path, at: 'value', message: `must not be empty${allowed}` };
    case 'minItems':
      return { path, at: 'value', message: `must list at least ${String(p['limit'])} item${p['limit'] === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, at: 'value', message: description ?? `must list at most ${String(p['limit'])} items` };
    default:
      return { path, at: 'value', message: `${e.message ?? 'is invalid'}${allowed}` };
  }
}

function typeName(t: string): string {
  switch (t) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'integer':
      return 'an integer';
    case 'null':
      return 'null';
    default:
      return `a ${t}`;
  }
}

/** A found value as a message shows it. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}
