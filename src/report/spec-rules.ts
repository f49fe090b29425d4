import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpec, type SpecRule } from './rule-refs.js';

export { citedRuleIds, headingAnchor, headingAnchors, parseSpec, plainRuleText, RULE_REF, type SpecRule } from './rule-refs.js';

/**
 * docs/spec.md of this package, found from this module's own location (never the working directory), so it works
 * from a clone, from compiled output and from an installed package alike: the nearest folder upwards that has a
 * package.json and docs/spec.md.
 */
export function specFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'docs', 'spec.md');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`docs/spec.md not found above ${dirname(fileURLToPath(import.meta.url))}`);
    dir = parent;
  }
}

let cached: ReadonlyMap<string, SpecRule> | undefined;

/** The rules of the package's docs/spec.md, read once. */
export function specRules(): ReadonlyMap<string, SpecRule> {
  cached ??= parseSpec(readFileSync(specFile(), 'utf8')).rules;
  return cached;
}
