// The docker backend's evidence: one container per workload, so a container's log (data plane, echo app and
// entrypoint, as the engine stamped it) and the configs the backend copied in are that workload's.
import type Dockerode from 'dockerode';
import type { StartedTestContainer } from 'testcontainers';
import type { EnvironmentEvidence, EvidenceOptions, EvidenceRequest, WorkloadKey } from '../../model/index.js';
import { slotEvidence, type EvidenceSource } from '../common/host-evidence.js';
import type { ConfigHistory } from '../common/timed-log.js';
import { readContainerLog } from './container-log.js';

/** What evidence needs of one workload's container. */
export interface EvidenceContainer {
  readonly key: WorkloadKey;
  readonly label: string;
  readonly container: StartedTestContainer | undefined;
  /** Every workload.json the backend copied in, with when. */
  readonly configs: ConfigHistory;
  /** Where the backend copies it; the entrypoint renders it into `rendered` for the data plane. */
  readonly template: string;
  readonly rendered: string;
}

/** Prints a file (the image holds node and nothing else). */
const PRINT_FILE = "process.stdout.write(require('fs').readFileSync(process.argv[1]))";
/** How long reading the config the entrypoint rendered may take before the one copied in is shown instead. */
const READ_TIMEOUT_MS = 10_000;

/** Per cell: its container's lines in the window and the config in force; per container asked about: its whole log. */
export async function dockerEvidence(
  docker: Dockerode,
  containers: readonly EvidenceContainer[],
  requests: readonly EvidenceRequest[],
  context: { scenario: string; meshMode: string },
  options: EvidenceOptions = {},
): Promise<EnvironmentEvidence> {
  const asked = containers.filter((c) => c.container !== undefined && (options.everyLog || requests.some((r) => r.workload === c.key)));
  const sources = await Promise.all(asked.map((c) => evidenceSource(docker, c)));
  return slotEvidence(sources, requests, context, options);
}

async function evidenceSource(docker: Dockerode, c: EvidenceContainer): Promise<EvidenceSource> {
  const [log, filled] = await Promise.all([readContainerLog(docker, c.container!.getId()), filledIn(c)]);
  const member = filled
    ? { key: c.key, configs: { at: (ms: number) => fill(c.configs.at(ms), filled) }, configFile: `${c.rendered} in its container` }
    : { key: c.key, configs: c.configs, configFile: `${c.template} in its container, before its entrypoint fills in the address and app ports` };
  return { label: c.label, ...(log ? { log } : {}), members: [member] };
}

type FilledIn = { readonly address: unknown; readonly app: unknown };

/**
 * What the entrypoint filled in (the container's address, the echo app's ports): it fills the same in on every
 * reload, so each config copied in, filled in alike, is the one the data plane read. Undefined when unreadable.
 */
async function filledIn(c: EvidenceContainer): Promise<FilledIn | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = c.container!.exec(['node', '-e', PRINT_FILE, c.rendered]);
    const r = await Promise.race([read, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), READ_TIMEOUT_MS)))]);
    if (r?.exitCode !== 0) return undefined;
    const config = JSON.parse(r.stdout) as { workload?: { address?: unknown }; app?: unknown };
    return config.workload?.address !== undefined && config.app !== undefined ? { address: config.workload.address, app: config.app } : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** The entrypoint's render (harness/container/entrypoint.mjs): the address and the app filled in, nothing else. */
function fill(text: string | undefined, f: FilledIn): string | undefined {
  if (text === undefined) return undefined;
  try {
    const t = JSON.parse(text) as { workload: Record<string, unknown> };
    return JSON.stringify({ ...t, workload: { ...t.workload, address: f.address }, app: f.app }, null, 2);
  } catch {
    return text;
  }
}
