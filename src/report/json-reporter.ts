import { join } from 'node:path';
import type { RunResult } from '../model/index.js';
import { jsonChunks } from './json-chunks.js';
import type { Reporter } from './reporter.js';
import { writeFileAtomic } from './write-file-atomic.js';

export const JSON_REPORT_FILE = 'report.json';

export function renderJson(result: RunResult): string {
  return JSON.stringify(result, null, 2) + '\n';
}

/** renderJson's text in pieces: a scale run's report (tens of MB) is never one string. */
export function* jsonReportChunks(result: RunResult): Generator<string, void, undefined> {
  yield* jsonChunks(result, '  ');
  yield '\n';
}

/** `report.json`: the RunResult itself (schema: src/report/schemas/run-result.schema.json). */
export function jsonReporter(): Reporter {
  return {
    name: 'json',
    onRunEnd: (result, outDir) => writeFileAtomic(join(outDir, JSON_REPORT_FILE), jsonReportChunks(result)),
  };
}
