import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MtlsMode, Scenario } from '../../../src/model/index.js';
import { effectiveModes } from '../../../src/oracle/index.js';
import { generateDocument, loadScenarioFile, type GeneratedDocument } from '../../../src/scenario/index.js';
import { seededRandom } from '../../../src/util/seeded-random.js';
import { modeForPort, normalizePolicy, resolveModes } from '../../../harness/reference/policy.mjs';

/**
 * A private folder for files written by a test; `remove()` in an after hook. Created on first use, so a describe
 * whose tests are all filtered out (mocha -g) leaves nothing behind.
 */
export function scratchDir(prefix: string): { readonly dir: string; remove(): void } {
  let dir: string | undefined;
  return {
    get dir() {
      dir ??= mkdtempSync(join(tmpdir(), prefix));
      return dir;
    },
    remove: () => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** Loads a generated (or edited) document through the real loader: admission rules, defaults, normalisation. */
export async function loadDocument(dir: string, doc: GeneratedDocument): Promise<Scenario> {
  const name = `${doc.metadata.name}-${counter++}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ ...doc, metadata: { ...doc.metadata, name } }));
  return loadScenarioFile(file);
}

export function documentFromSeed(seed: number): GeneratedDocument {
  return generateDocument(seededRandom(seed), 'prop');
}

/** `namespace/name|port` (port `*` for the workload-level mode) → effective mode, from the oracle. */
export function oracleModes(s: Scenario): Map<string, MtlsMode> {
  return new Map(effectiveModes(s, 'sidecar').map((e) => [`${e.workload}|${e.port ?? '*'}`, e.mode]));
}

/** The same map from the reference data plane's own resolution (harness/reference/policy.mjs), optionally with defects. */
export function referenceModes(s: Scenario, defects: readonly string[] = []): Map<string, MtlsMode> {
  const policies = s.policies.map((p, i) => normalizePolicy(p.manifest, i));
  const out = new Map<string, MtlsMode>();
  for (const w of s.workloads) {
    const r = resolveModes({ namespace: w.namespace, labels: { ...w.labels } }, policies, s.rootNamespace, new Set(defects));
    out.set(`${w.namespace}/${w.name}|*`, r.mode as MtlsMode);
    for (const p of w.ports) out.set(`${w.namespace}/${w.name}|${p.port}`, modeForPort(r, p.port) as MtlsMode);
  }
  return out;
}
