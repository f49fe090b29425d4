// @ts-check
import { HarnessError } from '../common/harness-error.mjs';

/**
 * Deliberate defects that can be planted in the reference sidecar (env `MESHCONFORM_DEFECTS`, comma list) so a
 * suite run can prove it catches a broken mesh. None is implemented yet: each resolution and decision step takes
 * the defect set so a defect is a one-line change in the step it breaks. Unknown names are refused, so a run never
 * silently ignores a defect it was asked to plant.
 */
export const KNOWN_DEFECTS = /** @type {readonly string[]} */ ([]);

/** @typedef {ReadonlySet<string>} Defects */

/**
 * @param {string | undefined} value the env value
 * @returns {Defects}
 */
export function parseDefects(value) {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = names.filter((n) => !KNOWN_DEFECTS.includes(n));
  if (unknown.length > 0) {
    const known = KNOWN_DEFECTS.length > 0 ? KNOWN_DEFECTS.join(', ') : 'none yet';
    throw new HarnessError(`MESHCONFORM_DEFECTS: unknown defect ${unknown.map((n) => `'${n}'`).join(', ')} (known: ${known})`);
  }
  return new Set(names);
}
