import { X509Certificate } from 'node:crypto';
import type { Attachment, CellEvidence, CellKey, EnvironmentEvidence, EvidenceRequest, LogLine, MeshMode, WorkloadKey } from '../../model/index.js';
import { EVIDENCE_BOUNDS, REDACTED, bounded, evidenceText } from '../../util/evidence-text.js';
import { commandLine, type Command, type CommandResult, type CommandRunner } from './command-runner.js';
import { attachmentId } from '../common/host-evidence.js';

/** A workload's pod as the deploy found it. */
export interface EvidencePod {
  readonly name: string;
  readonly ip: string;
}

/** Where the evidence of one deployed scenario is read. */
export interface EvidenceSource {
  readonly runner: CommandRunner;
  readonly context: string;
  readonly meshMode: MeshMode;
  readonly scenario: string;
  /** The mesh's namespace, where ztunnel runs (ambient). */
  readonly istioNamespace: string;
  readonly pods: ReadonlyMap<WorkloadKey, EvidencePod>;
  /** Progress lines: a piece left out says why here. */
  readonly log: (line: string) => void;
}

/** Per command: the pipeline waits a minute for all evidence; pods are read side by side, ambient takes 3 steps. */
const COMMAND_TIMEOUT_MS = 15_000;

/** The commands that read the mesh's side of a cell; `since` is RFC 3339. */
const commands = {
  sidecarLogs: (c: string, ns: string, pod: string, since: string) => ['kubectl', '--context', c, '-n', ns, 'logs', pod, '-c', 'istio-proxy', `--since-time=${since}`],
  listener: (c: string, ns: string, pod: string) => ['istioctl', '--context', c, 'proxy-config', 'listener', `${pod}.${ns}`, '--port', '15006', '-o', 'json'],
  secret: (c: string, ns: string, pod: string) => ['istioctl', '--context', c, 'proxy-config', 'secret', `${pod}.${ns}`, '-o', 'json'],
  node: (c: string, ns: string, pod: string) => ['kubectl', '--context', c, '-n', ns, 'get', 'pod', pod, '-o', 'jsonpath={.spec.nodeName}'],
  ztunnel: (c: string, istioNs: string, node: string) => [
    'kubectl',
    '--context',
    c,
    '-n',
    istioNs,
    'get',
    'pods',
    '-l',
    'app=ztunnel',
    '--field-selector',
    `spec.nodeName=${node}`,
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ],
  ztunnelLogs: (c: string, istioNs: string, zt: string, since: string) => ['kubectl', '--context', c, '-n', istioNs, 'logs', zt, `--since-time=${since}`],
  // The ztunnel pod as `<name>.<namespace>` (older istioctl requires it; newer ones pick any ztunnel without it).
  ztunnelConfig: (c: string, what: 'workloads' | 'policies', zt: string | undefined) => ['istioctl', '--context', c, 'ztunnel-config', what, ...(zt ? [zt] : []), '-o', 'json'],
};

/** The evidence commands with placeholders, for the plan of a dry run (no cell fails there). */
export function evidencePlan(context: string, meshMode: MeshMode, istioNamespace: string): string[] {
  const since = 'WINDOW_START';
  const argvs =
    meshMode === 'ambient'
      ? [
          commands.node(context, 'NS', 'POD'),
          commands.ztunnel(context, istioNamespace, 'NODE'),
          commands.ztunnelLogs(context, istioNamespace, 'ZTUNNEL', since),
          commands.ztunnelConfig(context, 'workloads', `ZTUNNEL.${istioNamespace}`),
          commands.ztunnelConfig(context, 'policies', `ZTUNNEL.${istioNamespace}`),
        ]
      : [commands.sidecarLogs(context, 'NS', 'POD', since), commands.listener(context, 'NS', 'POD'), commands.secret(context, 'NS', 'POD')];
  return argvs.map((a) => commandLine(a));
}

/** What one pod's evidence gave: per cell, and the attachments its cells link to. */
interface Gathered {
  readonly cells: ReadonlyMap<CellKey, CellEvidence>;
  readonly attachments: readonly Attachment[];
}

type Once = <T>(key: string, read: () => Promise<T>) => Promise<T>;

/**
 * `Environment.evidence` of a deployed scenario: per pod, its proxy's log lines in each cell's window (the sidecar's
 * `istio-proxy` container, or the ztunnel of its node), and the proxy's state as the mesh shows it, read once per pod
 * (policies are applied once per scenario) and attached. A command that fails leaves its piece out.
 */
export function evidenceReader(s: EvidenceSource): (requests: readonly EvidenceRequest[]) => Promise<EnvironmentEvidence> {
  const memo = new Map<string, Promise<unknown>>();
  const once: Once = <T>(key: string, read: () => Promise<T>) => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      memo.set(key, p);
    }
    return p;
  };
  return async (requests) => {
    const cells = new Map<CellKey, CellEvidence>();
    const attachments = new Map<string, Attachment>();
    if (s.runner.dryRun) return { cells, attachments: [] };
    const byWorkload = new Map<WorkloadKey, EvidenceRequest[]>();
    for (const r of requests) byWorkload.set(r.workload, [...(byWorkload.get(r.workload) ?? []), r]);
    await Promise.all(
      [...byWorkload].map(async ([wk, reqs]) => {
        const pod = s.pods.get(wk);
        if (!pod) return;
        try {
          const got = s.meshMode === 'ambient' ? await ambientEvidence(s, once, wk, pod, reqs) : await sidecarEvidence(s, once, wk, pod, reqs);
          for (const a of got.attachments) attachments.set(a.id, a);
          for (const [k, e] of got.cells) cells.set(k, e);
        } catch (err) {
          s.log(`meshconform: scenario ${s.scenario}: evidence of ${wk} left out: ${(err as Error).message}`);
        }
      }),
    );
    return { cells, attachments: [...attachments.values()] };
  };
}

async function sidecarEvidence(s: EvidenceSource, once: Once, wk: WorkloadKey, pod: EvidencePod, reqs: readonly EvidenceRequest[]): Promise<Gathered> {
  const ns = namespaceOf(wk);
  const logArgv = commands.sidecarLogs(s.context, ns, pod.name, sinceTime(reqs));
  const [log, state] = await Promise.all([read(s, logArgv), once(`sidecar ${wk}`, () => sidecarState(s, wk, ns, pod))]);
  const lines = log ? logLines(log.stdout) : undefined;
  const ids = state.attachments.map((a) => a.id);
  const listenerSource = commandLine(commands.listener(s.context, ns, pod.name));
  const cells = new Map<CellKey, CellEvidence>();
  for (const r of reqs) {
    const chains = state.listeners === undefined ? undefined : portChains(state.listeners, r.port);
    const config = chains && evidenceText(JSON.stringify(chains, null, 2), EVIDENCE_BOUNDS.configBytes, 'head');
    cells.set(r.key, {
      ...(lines ? { logs: windowLogs(lines, r, commandLine(logArgv)) } : {}),
      ...(config ? { config: { source: `${listenerSource} (the inbound filter chains for port ${r.port})`, ...config } } : {}),
      ...(ids.length > 0 ? { attachments: ids } : {}),
    });
  }
  return { cells, attachments: state.attachments };
}

/** The sidecar's inbound listener and its secrets (certificates described, key material redacted). */
async function sidecarState(s: EvidenceSource, wk: WorkloadKey, ns: string, pod: EvidencePod): Promise<{ attachments: Attachment[]; listeners?: unknown }> {
  // Bounded and collision-free (a hash of what it names): scenario names may be long, and slugs can coincide.
  const id = attachmentId('kube', s.scenario, wk);
  const listenerArgv = commands.listener(s.context, ns, pod.name);
  const secretArgv = commands.secret(s.context, ns, pod.name);
  const [listener, secret] = await Promise.all([read(s, listenerArgv), read(s, secretArgv)]);
  const attachments: Attachment[] = [];
  if (listener?.stdout.trim()) {
    attachments.push(stateAttachment(`${id}-listener`, `${wk}: the sidecar's inbound listener (${commandLine(listenerArgv)})`, wk, listener.stdout));
  }
  if (secret?.stdout.trim()) {
    const label = `${wk}: the sidecar's certificates, described, key material redacted (${commandLine(secretArgv)})`;
    attachments.push(stateAttachment(`${id}-secret`, label, wk, describeCertificates(secret.stdout)));
  }
  const listeners = listener ? parsed(listener.stdout) : undefined;
  return { attachments, ...(listeners !== undefined ? { listeners } : {}) };
}

/** The ztunnel on the workload's node: its log lines that mention the pod (else the window's), its workloads and policies. */
async function ambientEvidence(s: EvidenceSource, once: Once, wk: WorkloadKey, pod: EvidencePod, reqs: readonly EvidenceRequest[]): Promise<Gathered> {
  const zt = await once(`ztunnel of ${wk}`, () => ztunnelOf(s, wk, pod));
  const logArgv = zt && commands.ztunnelLogs(s.context, s.istioNamespace, zt.name, sinceTime(reqs));
  const [log, attachments] = await Promise.all([logArgv ? read(s, logArgv) : undefined, once(`ztunnel state ${zt?.name ?? ''}`, () => ztunnelState(s, zt))]);
  const lines = log ? logLines(log.stdout) : undefined;
  const mentions = mentionOf(pod);
  const ids = attachments.map((a) => a.id);
  const cells = new Map<CellKey, CellEvidence>();
  for (const r of reqs) {
    let logs: CellEvidence['logs'];
    if (lines && logArgv) {
      const about = windowLogs(lines, r, `${commandLine(logArgv)} (lines that mention ${pod.name} or ${pod.ip})`, mentions);
      logs = about.lines.length > 0 ? about : windowLogs(lines, r, `${commandLine(logArgv)} (every line of the window: none mentions ${pod.name} or ${pod.ip})`);
    }
    cells.set(r.key, { ...(logs ? { logs } : {}), ...(ids.length > 0 ? { attachments: ids } : {}) });
  }
  return { cells, attachments };
}

/** The ztunnel pod on the workload's node; undefined when either lookup fails. */
async function ztunnelOf(s: EvidenceSource, wk: WorkloadKey, pod: EvidencePod): Promise<{ name: string; node: string } | undefined> {
  const node = (await read(s, commands.node(s.context, namespaceOf(wk), pod.name)))?.stdout.trim();
  if (!node) return undefined;
  const name = (await read(s, commands.ztunnel(s.context, s.istioNamespace, node)))?.stdout.trim().split(/\s+/)[0];
  return name ? { name, node } : undefined;
}

/** ztunnel's workloads (those of the scenario's namespaces) and policies, once per ztunnel. */
async function ztunnelState(s: EvidenceSource, zt: { name: string; node: string } | undefined): Promise<Attachment[]> {
  const target = zt ? `${zt.name}.${s.istioNamespace}` : undefined;
  const whose = zt ? `ztunnel ${zt.name} on node ${zt.node}` : 'ztunnel';
  const id = attachmentId('kube', s.scenario, 'ztunnel', zt?.name ?? '');
  const workloadsArgv = commands.ztunnelConfig(s.context, 'workloads', target);
  const policiesArgv = commands.ztunnelConfig(s.context, 'policies', target);
  const [workloads, policies] = await Promise.all([read(s, workloadsArgv), read(s, policiesArgv)]);
  const namespaces = new Set([...s.pods.keys()].map(namespaceOf));
  const attachments: Attachment[] = [];
  if (workloads?.stdout.trim()) {
    const label = `${whose}: the workloads of the scenario's namespaces (${commandLine(workloadsArgv)})`;
    attachments.push(stateAttachment(`${id}-workloads`, label, undefined, inNamespaces(workloads.stdout, namespaces)));
  }
  if (policies?.stdout.trim()) attachments.push(stateAttachment(`${id}-policies`, `${whose}: its policies (${commandLine(policiesArgv)})`, undefined, policies.stdout));
  return attachments;
}

/** Runs one evidence command; a failure (no istioctl, RBAC, a timeout) is logged and gives undefined. */
async function read(s: EvidenceSource, argv: readonly string[]): Promise<CommandResult | undefined> {
  const cmd: Command = { argv: argv as Command['argv'], timeoutMs: COMMAND_TIMEOUT_MS };
  const r = await s.runner.run(cmd).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }) as CommandResult);
  if (r.exitCode === 0) return r;
  const why = r.notFound ? `${argv[0]} is not on PATH` : (r.stderr.trim() || r.stdout.trim() || `exit code ${r.exitCode}`).split('\n').slice(-2).join(' | ');
  s.log(`meshconform: scenario ${s.scenario}: evidence left out: ${commandLine(argv)} failed${r.timedOut ? ' (timed out)' : ''}: ${why}`);
  return undefined;
}

function stateAttachment(id: string, label: string, workload: WorkloadKey | undefined, text: string): Attachment {
  const json = parsed(text) !== undefined;
  return {
    id,
    label,
    ...(workload ? { workload } : {}),
    mediaType: json ? 'application/json' : 'text/plain',
    ...evidenceText(text, EVIDENCE_BOUNDS.attachmentBytes, 'head'),
  };
}

/** A log line and its time: its own timestamp, or the last one before it (a continuation); none before the first. */
interface TimedLine {
  readonly atMs: number | undefined;
  readonly text: string;
}

/**
 * Leading timestamps of Envoy (`[2026-01-01T00:00:00.123Z]` access log, `[2026-01-01 00:00:00.123][…]` its own log),
 * pilot-agent and ztunnel (`2026-01-01T00:00:00.123456Z`); no zone means UTC (the containers' clock).
 */
const STAMP = /^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\]?/;

function logTimestamp(line: string): number | undefined {
  const m = STAMP.exec(line);
  if (!m) return undefined;
  const zone = m[4] === undefined || m[4] === 'Z' ? 'Z' : `${m[4].slice(0, 3)}:${m[4].slice(-2)}`;
  const t = Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}${zone}`);
  return Number.isNaN(t) ? undefined : t;
}

/** The whole log read, redacted once (a private key spans lines), then split into timed lines. */
function logLines(stdout: string): TimedLine[] {
  const text = evidenceText(stdout, EVIDENCE_BOUNDS.runBytes, 'tail').text;
  const out: TimedLine[] = [];
  let last: number | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    last = logTimestamp(line) ?? last;
    out.push({ atMs: last, text: line });
  }
  return out;
}

/** The lines within the cell's window (and those with no time at all), the last EVIDENCE_BOUNDS.cellLogBytes of them. */
function windowLogs(lines: readonly TimedLine[], r: EvidenceRequest, source: string, keep: (text: string) => boolean = () => true): NonNullable<CellEvidence['logs']> {
  const within: LogLine[] = lines
    .filter((l) => (l.atMs === undefined || (l.atMs >= r.fromMs && l.atMs <= r.toMs)) && keep(l.text))
    .map((l) => ({ atMs: l.atMs ?? r.fromMs, stream: 'stdout' as const, text: l.text }));
  // Already redacted: only the bound is applied here, to the joined lines, then mapped back (the first may be cut).
  const cut = bounded(within.map((l) => l.text).join('\n'), EVIDENCE_BOUNDS.cellLogBytes, 'tail');
  if (!cut.truncated) return { source, lines: within };
  const kept = cut.text.split('\n');
  const tail = within.slice(within.length - kept.length).map((l, i) => ({ ...l, text: kept[i]! }));
  return { source, lines: tail, truncated: true };
}

/** Whether a log line is about the pod: its name, or its IP not as part of a longer address. */
function mentionOf(pod: EvidencePod): (text: string) => boolean {
  const ip = new RegExp(`(^|[^\\d.])${pod.ip.replace(/\./g, '\\.')}(?![\\d])`);
  return (text) => text.includes(pod.name) || ip.test(text);
}

/** `kubectl logs --since-time`: the start of the earliest window, in whole seconds (the lines are filtered per cell). */
function sinceTime(reqs: readonly EvidenceRequest[]): string {
  const from = Math.min(...reqs.map((r) => r.fromMs));
  return new Date(Math.floor(from / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The inbound listener's filter chains for one port: its own, else the catch-all ones (as the listener matches). */
function portChains(listeners: unknown, port: number): unknown[] | undefined {
  const chains = (Array.isArray(listeners) ? listeners : []).flatMap((l: { filterChains?: unknown[] }) => (Array.isArray(l?.filterChains) ? l.filterChains : [])) as {
    name?: string;
    filterChainMatch?: { destinationPort?: number };
  }[];
  const own = chains.filter((c) => c?.filterChainMatch?.destinationPort === port);
  const pick = own.length > 0 ? own : chains.filter((c) => c?.filterChainMatch?.destinationPort === undefined);
  return pick.length > 0 ? pick.map((c) => ({ name: c.name, filterChainMatch: c.filterChainMatch ?? {} })) : undefined;
}

/** A JSON array of workloads cut to those of the given namespaces; anything else unchanged. */
function inNamespaces(text: string, namespaces: ReadonlySet<string>): string {
  const list = parsed(text);
  if (!Array.isArray(list)) return text;
  const kept = list.filter((w: { namespace?: unknown }) => typeof w?.namespace === 'string' && namespaces.has(w.namespace));
  return kept.length > 0 ? JSON.stringify(kept, null, 2) : text;
}

/**
 * `proxy-config secret -o json` with every certificate chain and trusted CA (`inlineBytes`, base64 PEM) replaced by
 * what a reader needs (subject, SANs, issuer, validity), and key members replaced whole; evidenceText redacts the rest.
 */
function describeCertificates(text: string): string {
  const root = parsed(text);
  if (root === undefined) return text;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        // Whole members, so the JSON stays JSON (the shared rule redacts values, not objects).
        if (/^private[_-]?key$/i.test(k)) return [k, REDACTED];
        const pem = k === 'certificateChain' || k === 'trustedCa' ? pemOf(x) : undefined;
        return [k, pem !== undefined ? { certificates: describePem(pem) } : walk(x)];
      }),
    );
  };
  return JSON.stringify(walk(root), null, 2);
}

function pemOf(source: unknown): string | undefined {
  const s = source as { inlineBytes?: unknown; inlineString?: unknown } | null;
  if (typeof s?.inlineString === 'string') return s.inlineString;
  return typeof s?.inlineBytes === 'string' ? Buffer.from(s.inlineBytes, 'base64').toString('utf8') : undefined;
}

function describePem(pem: string): unknown[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((block) => {
    try {
      const c = new X509Certificate(block);
      return { subject: c.subject, subjectAltName: c.subjectAltName, issuer: c.issuer, validFrom: c.validFrom, validTo: c.validTo, serialNumber: c.serialNumber };
    } catch {
      return { unreadable: 'a certificate that does not parse' };
    }
  });
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const namespaceOf = (wk: WorkloadKey) => wk.split('/')[0]!;
