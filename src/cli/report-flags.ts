import type { Command } from 'commander';
import { loadImplementationInfo, loadProfiles, mergeImplementationInfo, readRunResultFile, shellQuote, type ImplementationInfo, type ReporterOptions } from '../report/index.js';
import { HARNESS_VERSION } from '../run/version.js';

/** Flags of `run` that feed the HTML and conformance reports. */
export interface ReportFlags {
  baseline?: string;
  profiles?: string;
  implOptions?: string;
  implName?: string;
  implVersion?: string;
  implOrganization?: string;
  implUrl?: string;
  implContact?: string[];
}

/** The run flags the reproduce command spells out (every one that changes what is probed or how it is judged). */
interface RunSettings {
  backend: string;
  dataPlane: string;
  workloadsPerProcess?: number | undefined;
  grep?: string;
  retries: number;
  concurrency: number;
  timeout: number;
  readyTimeout: number;
  parallel: number;
  image?: string;
  /** Defects planted in the reference data plane: a reproduction must plant them too. */
  defect?: string[];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addReportFlags(cmd: Command): Command {
  return cmd
    .option('--baseline <report.json>', 'an earlier report.json: the HTML report shows regressions, fixes, new and removed cells against it')
    .option('--profiles <file>', 'conformance profile definitions (default: the built-in scenarios/profiles.yaml)')
    .option('--impl-options <file>', 'conformance report: YAML with name, version, organization, url, contact of the implementation')
    .option('--impl-name <name>', 'conformance report: implementation name (default: the data plane)')
    .option('--impl-version <version>', 'conformance report: implementation version')
    .option('--impl-organization <org>', 'conformance report: organization behind the implementation')
    .option('--impl-url <url>', 'conformance report: implementation URL')
    .option('--impl-contact <contact>', 'conformance report: a contact (repeatable)', collect);
}

/** The command that runs the same suite the same way, defaults spelled out (so a later default change cannot differ). */
export function reproduceCommand(paths: readonly string[], f: RunSettings): string {
  const args = ['npx', `meshconform@${HARNESS_VERSION}`, 'run', ...paths, '--backend', f.backend, '--data-plane', f.dataPlane];
  if (f.image !== undefined) args.push('--image', f.image);
  for (const d of f.defect ?? []) args.push('--defect', d);
  if (f.workloadsPerProcess !== undefined) args.push('--workloads-per-process', String(f.workloadsPerProcess));
  if (f.grep !== undefined) args.push('--grep', f.grep);
  args.push('--retries', String(f.retries), '--concurrency', String(f.concurrency), '--timeout', String(f.timeout));
  args.push('--ready-timeout', String(f.readyTimeout), '--parallel', String(f.parallel));
  return args.map(shellQuote).join(' ');
}

/** Reads and checks every report input before the run starts, so a bad file fails fast (exit 2) instead of after it. */
export async function reportOptionsFrom(paths: readonly string[], flags: ReportFlags & RunSettings): Promise<Omit<ReporterOptions, 'stream'>> {
  const fromFlags: ImplementationInfo = {
    ...(flags.implName !== undefined ? { name: flags.implName } : {}),
    ...(flags.implVersion !== undefined ? { version: flags.implVersion } : {}),
    ...(flags.implOrganization !== undefined ? { organization: flags.implOrganization } : {}),
    ...(flags.implUrl !== undefined ? { url: flags.implUrl } : {}),
    ...(flags.implContact !== undefined ? { contact: flags.implContact } : {}),
  };
  const fromFile = flags.implOptions !== undefined ? await loadImplementationInfo(flags.implOptions) : {};
  return {
    implementation: mergeImplementationInfo(fromFile, fromFlags),
    profiles: await loadProfiles(flags.profiles),
    reproduce: reproduceCommand(paths, flags),
    ...(flags.baseline !== undefined ? { baseline: { file: flags.baseline, result: await readRunResultFile(flags.baseline) } } : {}),
  };
}
