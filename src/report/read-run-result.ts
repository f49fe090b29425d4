import { readTextFile } from '../util/read-text-file.js';
import type { RunResult } from '../model/index.js';
import { RUN_RESULT_API_VERSION } from '../model/index.js';
import { ReportInputError } from './report-input-error.js';
import { validateRunResult } from './run-result-schema.js';

const MAX_ERRORS = 5;

/**
 * Reads a report.json written by `meshconform run` (last night's, for a comparison). Every problem is a
 * ReportInputError naming the file: unreadable, not JSON (a truncated file), another kind or version, or off-schema.
 */
export async function readRunResultFile(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ReportInputError(file, code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const hint = text.trim() === '' ? 'the file is empty' : `not valid JSON (truncated or not a report.json?): ${(err as Error).message}`;
    throw new ReportInputError(file, hint, { cause: err });
  }
  const head = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (head?.['kind'] !== 'RunResult') {
    throw new ReportInputError(file, `not a meshconform report.json: expected kind "RunResult", found ${describe(head?.['kind'])}`);
  }
  if (head['apiVersion'] !== RUN_RESULT_API_VERSION) {
    throw new ReportInputError(
      file,
      `written by another version of meshconform: apiVersion ${describe(head['apiVersion'])}, this version reads ${JSON.stringify(RUN_RESULT_API_VERSION)}`,
    );
  }
  const checked = validateRunResult(value);
  if (!checked.valid) {
    const more = checked.errors.length > MAX_ERRORS ? ` (and ${checked.errors.length - MAX_ERRORS} more)` : '';
    throw new ReportInputError(file, `does not match the report.json schema: ${checked.errors.slice(0, MAX_ERRORS).join('; ')}${more}`);
  }
  // Cells are matched by key (compare, --baseline): a key twice would let one verdict hide the other.
  const seen = new Set<string>();
  for (const cell of checked.value.scenarios.flatMap((s) => s.cells)) {
    if (seen.has(cell.key)) throw new ReportInputError(file, `cell ${JSON.stringify(cell.key)} appears more than once: not a report meshconform wrote`);
    seen.add(cell.key);
  }
  // Reports written before claims existed judged Istio's reference outcomes alone.
  return checked.value.claim === undefined ? { ...checked.value, claim: 'istio' } : checked.value;
}

function describe(v: unknown): string {
  return v === undefined ? 'none' : JSON.stringify(v);
}
