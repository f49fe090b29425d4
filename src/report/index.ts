export type { Reporter, ReporterFactory, ReporterOptions, RunStartEvent, ScenarioStartEvent } from './reporter.js';
export { reporters, REPORTER_NAMES, isReporterName, createReporters } from './reporters.js';
export type { ReporterName } from './reporters.js';
export { multiplexReporters } from './multiplex-reporters.js';
export type { MultiplexedReporter } from './multiplex-reporters.js';
export { consoleReporter, renderConsoleReport, consoleStyleFor } from './console-reporter.js';
export type { ConsoleStyle } from './console-reporter.js';
export { jsonReporter, renderJson, jsonReportChunks, JSON_REPORT_FILE } from './json-reporter.js';
export { jsonChunks } from './json-chunks.js';
export { junitReporter, renderJunit, xmlSafe, JUNIT_REPORT_FILE } from './junit-reporter.js';
export { validateRunResult, runResultSchema, RUN_RESULT_SCHEMA_URL } from './run-result-schema.js';
export type { RunResultValidation } from './run-result-schema.js';
export { writeFileAtomic } from './write-file-atomic.js';
export { CLIENT_SHORT_NAMES } from './cell-text.js';
export { htmlReporter, renderHtml, htmlChunks, jsonForScript, HTML_REPORT_FILE } from './html/html-reporter.js';
export type { HtmlReportInput } from './html/html-reporter.js';
export {
  conformanceReporter,
  buildConformanceReport,
  renderConformanceYaml,
  reproduceFromResult,
  CONFORMANCE_REPORT_FILE,
  CONFORMANCE_REPORT_API_VERSION,
  CONFORMANCE_SCHEMA_URL,
} from './conformance-reporter.js';
export type { ConformanceReport, ConformanceInput, ProfileReport } from './conformance-reporter.js';
export { validateConformanceReport } from './conformance-schema.js';
export { loadProfiles, parseProfiles, defaultProfiles, inProfile, DEFAULT_PROFILES_FILE } from './profiles.js';
export type { ConformanceProfile } from './profiles.js';
export { profileResults, featureResults, groupResult, testOutcome } from './profile-results.js';
export type { GroupResult, GroupOutcome, TestOutcome, TestRef } from './profile-results.js';
export { loadImplementationInfo, mergeImplementationInfo } from './implementation-info.js';
export type { ImplementationInfo } from './implementation-info.js';
export { suiteDigest } from './suite-digest.js';
export type { SuiteDigest } from './suite-digest.js';
export { compareRuns } from './compare-runs.js';
export type { RunComparison, VerdictChange, LoneCell, ComparedCell, ComparedRun, TimeToEnforceChange } from './compare-runs.js';
export { renderComparisonText } from './compare-text.js';
export { readRunResultFile } from './read-run-result.js';
export { ReportInputError } from './report-input-error.js';
export { shellQuote } from './shell-quote.js';
export { cellReproduceCommand } from './reproduce-cell.js';
export { attachmentPath, EVIDENCE_DIR } from './evidence-paths.js';
export { writeAttachments } from './evidence-files.js';
