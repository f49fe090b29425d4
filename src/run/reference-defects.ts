import { execa } from 'execa';
import { BackendError, UsageError } from '../util/errors.js';
import { harnessFile } from './data-plane.js';

/** One defect the reference data plane can plant (`harness/reference/defects.mjs`, the only catalogue). */
export interface DefectInfo {
  readonly name: string;
  readonly layer: 'policy' | 'connection' | 'tls';
  readonly description: string;
}

let cached: Promise<readonly DefectInfo[]> | undefined;

/**
 * The defect catalogue, read from the reference sidecar itself (`sidecar.mjs --list-defects`): src/ never imports
 * harness/, and asking the program that plants the defects means the CLI can never accept a name it would refuse.
 */
export function referenceDefects(): Promise<readonly DefectInfo[]> {
  cached ??= (async () => {
    const r = await execa(process.execPath, [harnessFile('reference/sidecar.mjs'), '--list-defects'], { reject: false, timeout: 30_000, env: { MESHCONFORM_DEFECTS: '' } });
    if (r.exitCode !== 0) throw new BackendError(`cannot list the reference data plane's defects: ${(r.stderr || r.shortMessage || '').split('\n')[0] ?? ''}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch (err) {
      throw new BackendError(`the reference data plane printed an unreadable defect list: ${r.stdout.slice(0, 200)}`, { cause: err });
    }
    if (!Array.isArray(parsed) || !parsed.every(isDefectInfo)) throw new BackendError('the reference data plane printed a malformed defect list');
    return parsed;
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}

function isDefectInfo(v: unknown): v is DefectInfo {
  const o = v as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o['name'] === 'string' && /^[a-z0-9-]+$/.test(o['name'])
    && ['policy', 'connection', 'tls'].includes(o['layer'] as string) && typeof o['description'] === 'string';
}

/** Checks `--defect` names against the catalogue: an unknown one is a usage error listing the known ones. */
export async function checkDefectNames(names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const known = (await referenceDefects()).map((d) => d.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown defect ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the reference data plane knows: ${known.join(', ')}`);
  }
  return [...new Set(names)];
}
