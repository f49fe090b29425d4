import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ScenarioResult } from '../model/index.js';

export interface SuiteDigest {
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly scenarios: number;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Identifies the scenario suite a run used, independent of paths and working directory: sha256 over, per scenario in
 * name order, its name, the sha256 of its file's bytes and the sha256 of the policies it loaded (so policy files a
 * scenario references count too). A scenario run in both mesh modes counts once.
 */
export async function suiteDigest(scenarios: readonly Pick<ScenarioResult, 'name' | 'file' | 'policies'>[]): Promise<SuiteDigest> {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const outer = createHash('sha256');
  for (const name of names) {
    const s = byName.get(name)!;
    outer.update(`${name}\n${sha256(await readFile(s.file))}\n${sha256(JSON.stringify(s.policies))}\n`);
  }
  return { digest: `sha256:${outer.digest('hex')}`, scenarios: names.length };
}
