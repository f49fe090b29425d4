import { conformanceReporter } from './conformance-reporter.js';
import { consoleReporter } from './console-reporter.js';
import { htmlReporter } from './html/html-reporter.js';
import { jsonReporter } from './json-reporter.js';
import { junitReporter } from './junit-reporter.js';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.js';

/** The reporter registry; its keys are the valid `--reporter` names. */
export const reporters = {
  console: consoleReporter,
  json: jsonReporter,
  junit: junitReporter,
  html: htmlReporter,
  conformance: conformanceReporter,
} as const satisfies Record<string, ReporterFactory>;

export type ReporterName = keyof typeof reporters;

export const REPORTER_NAMES = Object.keys(reporters) as readonly ReporterName[];

export function isReporterName(name: string): name is ReporterName {
  return Object.hasOwn(reporters, name);
}

/** Instantiates the named reporters (each name once, in the given order). */
export function createReporters(names: readonly ReporterName[], options: ReporterOptions = {}): Reporter[] {
  return [...new Set(names)].map((n) => reporters[n](options));
}
