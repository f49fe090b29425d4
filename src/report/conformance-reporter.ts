import { join } from 'node:path';
import { Document } from 'yaml';
import type { Claim, MeshMode, RunResult, Summary } from '../model/index.js';
import type { ImplementationInfo } from './implementation-info.js';
import { featureResults, profileResults, type GroupResult } from './profile-results.js';
import { defaultProfiles, type ConformanceProfile } from './profiles.js';
import type { Reporter, ReporterOptions } from './reporter.js';
import { shellQuote } from './shell-quote.js';
import { suiteDigest } from './suite-digest.js';
import { writeFileAtomic } from './write-file-atomic.js';

export const CONFORMANCE_REPORT_FILE = 'conformance.yaml';
export const CONFORMANCE_REPORT_API_VERSION = 'meshconform.dev/v1alpha1';
export const CONFORMANCE_SCHEMA_URL = new URL('./schemas/conformance-report.schema.json', import.meta.url);

export interface ProfileReport extends GroupResult {
  readonly description: string;
}

/** The vendor-facing claim (src/report/schemas/conformance-report.schema.json), in the spirit of Gateway API's ConformanceReport. */
export interface ConformanceReport {
  readonly apiVersion: typeof CONFORMANCE_REPORT_API_VERSION;
  readonly kind: 'ConformanceReport';
  readonly date: string;
  readonly runId: string;
  readonly implementation: {
    readonly name: string;
    readonly version?: string;
    readonly organization?: string;
    readonly url?: string;
    readonly contact: readonly string[];
  };
  readonly dataPlane: string;
  /** What the verdicts claim (`--claim`): PeerAuthentication's required outcomes or Istio's reference ones. */
  readonly claim: Claim;
  /** Mesh modes in which at least one scenario actually ran. */
  readonly meshModes: readonly MeshMode[];
  readonly harness: { readonly name: 'meshconform'; readonly version: string };
  readonly suite: { readonly digest: string; readonly scenarios: number };
  readonly summary: Summary;
  /** Profiles with at least one test in this run. */
  readonly profiles: readonly ProfileReport[];
  /** Profiles defined but not exercised by this run (no scenario of theirs was selected). */
  readonly profilesNotRun: readonly string[];
  readonly features: readonly GroupResult[];
  readonly reproduce: { readonly command: string; readonly harnessVersion: string; readonly suiteDigest: string };
}

/** The `run` command line a RunResult implies (options the result does not record take their defaults). */
export function reproduceFromResult(r: RunResult): string {
  const args = ['npx', `meshconform@${r.harness.version}`, 'run', ...r.options.paths];
  args.push('--backend', r.environment.backend, '--data-plane', r.environment.dataPlane, '--claim', r.claim);
  if (r.options.retries !== undefined) args.push('--retries', String(r.options.retries));
  args.push('--concurrency', String(r.options.concurrency), '--timeout', String(r.options.timeoutMs));
  if (r.options.grep !== undefined) args.push('--grep', r.options.grep);
  return args.map(shellQuote).join(' ');
}

export interface ConformanceInput {
  readonly profiles?: readonly ConformanceProfile[];
  readonly implementation?: ImplementationInfo;
  readonly reproduce?: string;
}

export async function buildConformanceReport(r: RunResult, input: ConformanceInput = {}): Promise<ConformanceReport> {
  const profiles = profileResults(r, input.profiles ?? defaultProfiles());
  const suite = await suiteDigest(r.scenarios);
  const impl = input.implementation ?? {};
  const modes = new Set(r.scenarios.filter((s) => s.skipped === undefined).map((s) => s.meshMode));
  return {
    apiVersion: CONFORMANCE_REPORT_API_VERSION,
    kind: 'ConformanceReport',
    date: r.finishedAt,
    runId: r.runId,
    implementation: {
      name: impl.name ?? r.environment.dataPlane,
      ...(impl.version !== undefined ? { version: impl.version } : {}),
      ...(impl.organization !== undefined ? { organization: impl.organization } : {}),
      ...(impl.url !== undefined ? { url: impl.url } : {}),
      contact: [...(impl.contact ?? [])],
    },
    dataPlane: r.environment.dataPlane,
    claim: r.claim,
    meshModes: (['sidecar', 'ambient'] as const).filter((m) => modes.has(m)),
    harness: { name: 'meshconform', version: r.harness.version },
    suite,
    summary: r.summary,
    profiles: profiles.filter((p) => p.statistics.tests > 0),
    profilesNotRun: profiles.filter((p) => p.statistics.tests === 0).map((p) => p.name),
    features: featureResults(r),
    reproduce: { command: input.reproduce ?? reproduceFromResult(r), harnessVersion: r.harness.version, suiteDigest: suite.digest },
  };
}

export function renderConformanceYaml(report: ConformanceReport): string {
  const doc = new Document(report);
  doc.commentBefore =
    ' meshconform conformance report (schema: src/report/schemas/conformance-report.schema.json).\n' +
    ' result: success = every test passed; partial = some skipped; failure = a test failed or could not run.';
  return doc.toString({ lineWidth: 0 });
}

/** `conformance.yaml`: the vendor's claim, per profile and per feature, with the suite digest and how to reproduce. */
export function conformanceReporter(options: ReporterOptions = {}): Reporter {
  return {
    name: 'conformance',
    async onRunEnd(result, outDir) {
      // A conformance claim needs the whole suite: an interrupted run makes none (its report.json says why).
      if (result.interrupted) return;
      const report = await buildConformanceReport(result, options);
      await writeFileAtomic(join(outDir, CONFORMANCE_REPORT_FILE), renderConformanceYaml(report));
    },
  };
}
