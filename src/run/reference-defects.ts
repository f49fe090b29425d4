import { execa } from 'execa';
import type { Claim } from '../model/index.js';
import { BackendError, UsageError } from '../util/errors.js';
import { harnessFile } from './data-plane.js';

/** One defect the reference data plane can plant (`harness/reference/defects.mjs`, the only catalogue). */
export interface DefectInfo {
  readonly name: string;
  readonly layer: 'policy' | 'connection' | 'tls';
  /** `static`: visible to a plain run; `chaos`: only shows under faults (restarts, reloads, rotations). */
  readonly kind: 'static' | 'chaos';
  readonly description: string;
  /** Under which `--claim` it is a defect: `spec` (PeerAuthentication's required outcomes) and/or `istio` (Istio's). */
  readonly claims: readonly Claim[];
  /** A defect that takes a value (`--defect name=<value>`). */
  readonly parameter?: { readonly unit: string; readonly default: number | null; readonly description: string };
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
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o['name'] === 'string' &&
    /^[a-z0-9-]+$/.test(o['name']) &&
    ['policy', 'connection', 'tls'].includes(o['layer'] as string) &&
    ['static', 'chaos'].includes(o['kind'] as string) &&
    typeof o['description'] === 'string' &&
    Array.isArray(o['claims']) &&
    o['claims'].length > 0 &&
    o['claims'].every((c) => c === 'spec' || c === 'istio')
  );
}

/** The defect name of a `--defect` value (`name` or `name=<value>`). */
export function defectName(spec: string): string {
  const i = spec.indexOf('=');
  return i < 0 ? spec : spec.slice(0, i);
}

/**
 * Checks `--defect` values (`name` or `name=<ms>`) against the catalogue: an unknown name, a value for a defect that
 * takes none, or a value that is not a whole number of milliseconds is a usage error. Returns the values, deduplicated.
 */
export async function checkDefectNames(specs: readonly string[]): Promise<string[]> {
  if (specs.length === 0) return [];
  const catalogue = await referenceDefects();
  const known = catalogue.map((d) => d.name);
  const unknown = specs.filter((n) => !known.includes(defectName(n)));
  if (unknown.length > 0) {
    throw new UsageError(`unknown defect ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the reference data plane knows: ${known.join(', ')}`);
  }
  for (const spec of specs) {
    if (!spec.includes('=')) continue;
    const d = catalogue.find((x) => x.name === defectName(spec))!;
    const value = spec.slice(spec.indexOf('=') + 1);
    if (!d.parameter) throw new UsageError(`--defect ${spec}: ${d.name} takes no value`);
    if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--defect ${spec}: the value must be a whole number of ${d.parameter.unit} (${d.parameter.description})`);
  }
  const names = specs.map(defectName);
  const twice = names.filter((n, i) => names.indexOf(n) !== i && specs[names.indexOf(n)] !== specs[i]);
  if (twice.length > 0) throw new UsageError(`--defect ${twice[0]} given twice with different values`);
  return [...new Set(specs)];
}
