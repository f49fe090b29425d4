import { join } from 'node:path';
import junitModule from 'junit-report-builder';
import type { Builder, TestSuite } from 'junit-report-builder';
import type { CellResult, RunResult, ScenarioResult } from '../model/index.js';
import { decidedByText, mismatchText, observationText } from './cell-text.js';
import type { Reporter } from './reporter.js';
import { writeFileAtomic } from './write-file-atomic.js';

export const JUNIT_REPORT_FILE = 'junit.xml';

// The package is CommonJS whose module.exports is the builder itself, while its types declare a default export.
const junitRoot = (junitModule as unknown as { default?: Builder }).default ?? (junitModule as unknown as Builder);

// Characters XML 1.0 cannot carry, plus C1 controls and DEL; lone surrogates fall outside the allowed ranges too.
const NOT_XML = /[^\t\n\r\x20-\x7E\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Strips what XML cannot hold; the builder escapes `<&"` itself. xmlbuilder 15 splits only the first `]]>` in a
 * CDATA section, so a second one would end the section early: break every occurrence here.
 */
export function xmlSafe(s: string): string {
  return s.replace(NOT_XML, '').replaceAll(']]>', ']] >');
}

const seconds = (ms: number | undefined): number => Math.max(0, (ms ?? 0) / 1000);

function cellDetails(c: CellResult): string {
  const lines = [
    `cell ${c.key}`,
    `expected ${c.expected.outcome} (${c.expected.mode}); rule ${c.expected.rule}`,
    ...(c.expected.required && (c.expected.required.length > 1 || c.expected.required[0] !== c.expected.outcome)
      ? [`PeerAuthentication requires ${c.expected.required.join(' or ')}: ${c.expected.requiredRule ?? ''}`]
      : []),
    `${decidedByText(c.decidedBy)}`,
    c.observed ? `observed ${c.observedOutcome ?? 'no outcome'}: ${observationText(c.observed)}; attempts ${c.observed.attempts}` : 'observed nothing',
    `verdict ${c.verdict}: ${c.reason}`,
  ];
  return lines.join('\n');
}

/** The name a CI UI shows: `scenario › namespace/workload:port › client`. */
export function junitCaseName(c: Pick<CellResult, 'scenario' | 'workload' | 'port' | 'client'>): string {
  return `${c.scenario} › ${c.workload}:${c.port} › ${c.client}`;
}

function addCell(suite: TestSuite, c: CellResult): void {
  const tc = suite
    .testCase()
    .className(xmlSafe(`${c.feature}.${c.scenario}`))
    .name(xmlSafe(junitCaseName(c)))
    .time(seconds(c.observed?.timings.totalMs));
  switch (c.verdict) {
    case 'pass':
      // Conformant under --claim spec, but not what Istio answers: said where a CI log shows it.
      if (c.differsFromIstio) tc.standardOutput(xmlSafe(`differs from Istio: ${c.reason}`));
      return;
    case 'fail':
      tc.failure(xmlSafe(mismatchText(c)), 'mismatch').standardOutput(xmlSafe(cellDetails(c)));
      return;
    case 'flaky':
      // Counted as passed, as JUnit has no flaky state; the retry is recorded for whoever reads the log.
      tc.standardOutput(xmlSafe(`flaky: matched only after a retry (${c.observed?.attempts ?? '?'} attempts)\n${cellDetails(c)}`));
      return;
    case 'error':
      tc.error(xmlSafe(c.reason), 'harness-error', xmlSafe(cellDetails(c)));
      return;
    case 'skipped':
      tc.skipped().standardOutput(xmlSafe(`skipped: ${c.reason}`));
      return;
    default: {
      const never: never = c.verdict;
      throw new TypeError(`unknown verdict ${String(never)}`);
    }
  }
}

function addScenario(builder: Builder, s: ScenarioResult, result: RunResult): void {
  const suite = builder
    .testSuite()
    .name(xmlSafe(`${s.feature}/${s.name} [${s.meshMode}]`))
    .time(seconds(s.durationMs))
    .property('runId', xmlSafe(result.runId))
    .property('harnessVersion', xmlSafe(result.harness.version))
    .property('dataPlane', xmlSafe(result.environment.dataPlane))
    .property('backend', xmlSafe(result.environment.backend))
    .property('claim', result.claim)
    .property('file', xmlSafe(s.file))
    .property('feature', xmlSafe(s.feature))
    .property('meshMode', s.meshMode);
  const classname = xmlSafe(`${s.feature}.${s.name}`);
  if (s.error !== undefined) {
    suite.testCase().className(classname).name('scenario setup').error(xmlSafe(s.error), 'harness-error');
  }
  if (s.skipped !== undefined && s.cells.length === 0) {
    suite
      .testCase()
      .className(classname)
      .name('scenario')
      .skipped()
      .standardOutput(xmlSafe(`skipped: ${s.skipped}`));
  }
  // A lint finding means the scenario (the test itself) is wrong: an <error>, not a mesh <failure>.
  for (const l of s.lint) {
    suite
      .testCase()
      .className(classname)
      .name(xmlSafe(`lint ${l.file}:${l.line}:${l.column}`))
      .error(xmlSafe(`scenario lint error: ${l.message}`), 'scenario-lint');
  }
  for (const c of s.cells) addCell(suite, c);
}

/** junit.xml as text: one <testsuite> per scenario and mesh mode, one <testcase> per cell. */
export function renderJunit(result: RunResult): string {
  const builder = junitRoot.newBuilder().name(xmlSafe(`meshconform ${result.runId}`));
  for (const s of result.scenarios) addScenario(builder, s, result);
  // An interrupted run is incomplete, whatever its cells say: one <error> so CI cannot read it as green.
  if (result.interrupted) {
    builder
      .testSuite()
      .name('meshconform run')
      .property('runId', xmlSafe(result.runId))
      .testCase()
      .className('meshconform')
      .name('run completed')
      .error(
        `run interrupted by ${result.interrupted.signal} at ${result.interrupted.at}: scenarios not finished by then are errors, scenarios not started are missing`,
        'interrupted',
      );
  }
  return builder.build() + '\n';
}

export function junitReporter(): Reporter {
  return {
    name: 'junit',
    onRunEnd: (result, outDir) => writeFileAtomic(join(outDir, JUNIT_REPORT_FILE), renderJunit(result)),
  };
}
