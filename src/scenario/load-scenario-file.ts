import { basename, dirname, resolve } from 'node:path';
import { isMap } from 'yaml';
import type { ExpectEntry, ExpectedOutcome, Scenario, SourcePos, Workload, WorkloadPort } from '../model/index.js';
import { formatPos } from '../util/errors.js';
import { Diagnostics } from './diagnostics.js';
import type { PathSeg } from './diagnostics.js';
import { isRecord } from './is-record.js';
import { k8sNames } from './k8s-names.js';
import { DEFAULT_NAMESPACE, loadPolicies } from './load-policies.js';
import { loadChaos } from './load-chaos.js';
import { OUTCOME_KEYS, SCENARIO_API_VERSION, expectCheck, scenarioCheck, workloadCheck } from './scenario-schema.js';
import type { RawExpect, RawWorkload } from './scenario-schema.js';
import { readYamlSource } from './yaml-source.js';
import type { YamlDoc } from './yaml-source.js';

const DEFAULTS = { mode: 'sidecar', rootNamespace: 'istio-system', trustDomain: 'cluster.local' } as const;
/** C0 controls except tab and newline (CR too: a lone CR rewrites terminal lines), DEL and C1 controls. */
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Load one scenario file; every problem in it (and in the policy files it references) in one ScenarioError. */
export async function loadScenarioFile(path: string, refs: { readonly root?: string } = { root: dirname(path) }): Promise<Scenario> {
  const diags = new Diagnostics();
  const result = await loadScenarioSource(path, true, diags, refs);
  if (diags.count > 0 || typeof result !== 'object') throw diags.toError();
  return result;
}

/**
 * Load `file` into a Scenario, adding every problem to `diags` (then the result is undefined).
 * Not `explicit` (found by a directory walk): a file whose first document is not `kind: Scenario` is 'skipped'.
 */
export async function loadScenarioSource(file: string, explicit: boolean, diags: Diagnostics, refs: { readonly root?: string } = {}): Promise<Scenario | 'skipped' | undefined> {
  const before = diags.count;
  const src = await readYamlSource(file);
  if (!src.ok) {
    for (const d of src.diagnostics) diags.add(d);
    return undefined;
  }
  const docs = src.docs.filter((d) => !d.empty);
  const first = docs[0];
  if (!explicit) {
    if (!first) return 'skipped';
    // A document broken so badly that its kind cannot be read might be a scenario: report rather than skip it.
    const unreadable = first.kind === undefined && src.diagnostics.length > 0 && !isMap(first.doc.contents);
    if (first.kind !== 'Scenario' && !unreadable) return 'skipped';
  }
  if (src.diagnostics.length > 0) {
    for (const d of src.diagnostics) diags.add(d);
    return undefined;
  }
  if (!first) {
    diags.add({ file, pos: { file, line: 1, column: 1 }, message: 'file is empty; expected a Scenario' });
    return undefined;
  }
  const second = docs[1];
  if (second) {
    diags.add({ file, pos: second.pos([]), message: `a scenario file holds exactly one YAML document, found ${docs.length}` });
  }
  if (first.kind !== 'Scenario') {
    const found = first.kind === undefined ? 'it has no kind' : `its kind is ${JSON.stringify(first.kind)}`;
    diags.add({
      file,
      pos: first.pos(['kind']),
      message: `not a Scenario: ${found}; a file named explicitly must be a Scenario (apiVersion: ${SCENARIO_API_VERSION}, kind: Scenario)`,
    });
    return undefined;
  }
  const js = first.toJS();
  if (!js.ok) {
    diags.add(js.diagnostic);
    return undefined;
  }
  const scenario = await buildScenario(file, first, js.value, diags, refs);
  return diags.count > before ? undefined : scenario;
}

/** Checks every part that is well-formed enough to check, so one run reports all problems of the file. */
async function buildScenario(file: string, doc: YamlDoc, value: unknown, diags: Diagnostics, refs: { readonly root?: string }): Promise<Scenario | undefined> {
  const before = diags.count;
  const report = (path: readonly PathSeg[], message: string, at: 'key' | 'value' = 'value'): void => diags.add(doc.diagnostic({ path, at, message }));

  for (const issue of scenarioCheck.issues(value)) diags.add(doc.diagnostic(issue));
  const top = isRecord(value) ? value : {};
  const spec = isRecord(top['spec']) ? top['spec'] : {};
  const metadata = isRecord(top['metadata']) ? top['metadata'] : {};

  // Name: one scenario per file, named after it.
  const stem = basename(file).replace(/\.ya?ml$/i, '');
  const writtenName = metadata['name'];
  if (typeof writtenName === 'string' && writtenName !== stem) {
    report(['metadata', 'name'], `${JSON.stringify(writtenName)} must equal the file name stem ${JSON.stringify(stem)} (one scenario per file, named after it)`);
  } else if (writtenName === undefined && !k8sNames.dns1123Subdomain.test(stem)) {
    diags.add({ file, pos: doc.pos([]), message: `file name stem ${JSON.stringify(stem)} is not a valid scenario name; allowed: ${k8sNames.subdomainDescription}` });
  }
  const labels = isRecord(metadata['labels']) ? metadata['labels'] : {};
  if (labels['feature'] === '') report(['metadata', 'labels', 'feature'], 'must not be empty; omit it to use the folder name');
  // Kubernetes label syntax, like workload labels: the feature is printed on terminals and used to select and group.
  for (const [k, v] of Object.entries(labels)) {
    const keyProblem = k8sNames.labelKeyProblem(k);
    if (keyProblem) report(['metadata', 'labels', k], keyProblem, 'key');
    const valueProblem = typeof v === 'string' && v !== '' ? k8sNames.labelValueProblem(v) : undefined;
    if (valueProblem) report(['metadata', 'labels', k], valueProblem);
  }
  // Free text, but printed on terminals and into XML: no control characters (escape sequences, NUL) besides tab and newline.
  if (typeof spec['description'] === 'string' && CONTROL_CHARS.test(spec['description'])) {
    report(['spec', 'description'], 'must not contain control characters (only tab and newline are allowed)');
  }

  const workloads = checkWorkloads(doc, spec['workloads'], diags);
  const ambient = spec['mode'] === 'ambient' || spec['mode'] === 'both';
  const policies = Array.isArray(spec['policies'])
    ? await loadPolicies(spec['policies'], doc, ['spec', 'policies'], diags, { ambient, ...(refs.root !== undefined ? { root: refs.root } : {}) })
    : { policies: [], warnings: [] };
  const expect = checkExpect(doc, spec['expect'], workloads, spec['mode'], diags);

  const chaos =
    spec['chaos'] !== undefined ? await loadChaos(spec['chaos'], { doc, workloads: workloads.built, declared: workloads.declared, mode: spec['mode'], diags }) : undefined;

  if (diags.count > before || !scenarioCheck.is(value)) return undefined;
  const s = value.spec;
  const metaLabels = value.metadata?.labels ?? {};
  return {
    name: stem,
    file,
    feature: metaLabels['feature'] ?? basename(dirname(resolve(file))),
    labels: metaLabels,
    description: s.description ?? '',
    mode: s.mode ?? DEFAULTS.mode,
    rootNamespace: s.rootNamespace ?? DEFAULTS.rootNamespace,
    trustDomain: s.trustDomain ?? DEFAULTS.trustDomain,
    workloads: [...workloads.built.values()],
    policies: policies.policies,
    expect,
    warnings: chaos ? [...policies.warnings, ...chaos.warnings] : policies.warnings,
    ...(chaos ? { chaos: chaos.spec } : {}),
    source: doc.pos([]),
  };
}

interface CheckedWorkloads {
  /** Valid workloads by `namespace/name`. */
  readonly built: Map<string, Workload>;
  /** Every key declared, valid or not: an `expect` naming an invalid workload is not also "unknown". */
  readonly declared: Set<string>;
}

function checkWorkloads(doc: YamlDoc, items: unknown, diags: Diagnostics): CheckedWorkloads {
  const built = new Map<string, Workload>();
  const declared = new Set<string>();
  if (!Array.isArray(items)) return { built, declared };
  const firstAt = new Map<string, SourcePos>();
  for (const [i, item] of items.entries()) {
    const base = ['spec', 'workloads', i];
    for (const issue of workloadCheck.issues(item)) diags.add(doc.diagnostic(issue, base));
    if (isRecord(item) && typeof item['name'] === 'string') {
      const ns = typeof item['namespace'] === 'string' ? item['namespace'] : DEFAULT_NAMESPACE;
      const key = `${ns}/${item['name']}`;
      const first = firstAt.get(key);
      if (first) {
        const message = `duplicate workload ${key}: also declared at ${formatPos(first)}`;
        diags.add(doc.diagnostic({ path: ['name'], at: 'value', message }, base));
        continue;
      }
      firstAt.set(key, doc.pos(base));
      declared.add(key);
    }
    if (!workloadCheck.is(item)) continue;
    const w = buildWorkload(doc, item, base, diags);
    if (w) built.set(`${w.namespace}/${w.name}`, w);
  }
  return { built, declared };
}

function buildWorkload(doc: YamlDoc, raw: RawWorkload, base: PathSeg[], diags: Diagnostics): Workload | undefined {
  const before = diags.count;
  const labels = raw.labels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    const keyProblem = k8sNames.labelKeyProblem(k);
    if (keyProblem) diags.add(doc.diagnostic({ path: ['labels', k], at: 'key', message: keyProblem }, base));
    const valueProblem = k8sNames.labelValueProblem(v);
    if (valueProblem) diags.add(doc.diagnostic({ path: ['labels', k], at: 'value', message: valueProblem }, base));
  }
  const namespace = raw.namespace ?? DEFAULT_NAMESPACE;
  const ports: WorkloadPort[] = [];
  const portAt = new Map<number, SourcePos>();
  for (const [j, p] of raw.ports.entries()) {
    const port: WorkloadPort = typeof p === 'number' ? { port: p, protocol: 'tcp' } : { port: p.port, protocol: p.protocol ?? 'tcp' };
    const at = [...base, 'ports', j];
    const first = portAt.get(port.port);
    if (first) {
      const message = `port ${port.port} is declared twice in workload ${namespace}/${raw.name} (first at ${formatPos(first)})`;
      diags.add(doc.diagnostic({ path: at, at: 'value', message }));
      continue;
    }
    portAt.set(port.port, doc.pos(at));
    ports.push(port);
  }
  if (diags.count > before) return undefined;
  return {
    name: raw.name,
    namespace,
    labels,
    serviceAccount: raw.serviceAccount ?? raw.name,
    ports,
    source: doc.pos(base),
  };
}

function checkExpect(doc: YamlDoc, items: unknown, workloads: CheckedWorkloads, scenarioMode: unknown, diags: Diagnostics): ExpectEntry[] {
  const out: ExpectEntry[] = [];
  if (!Array.isArray(items)) return out;
  for (const [i, item] of items.entries()) {
    const base = ['spec', 'expect', i];
    const report = (path: PathSeg[], message: string): void => diags.add(doc.diagnostic({ path, at: 'value', message }, base));
    for (const issue of expectCheck.issues(item)) diags.add(doc.diagnostic(issue, base));
    if (!expectCheck.is(item)) continue;
    const e: RawExpect = item;
    const w = workloads.built.get(e.workload);
    if (!workloads.declared.has(e.workload)) {
      const known = [...workloads.declared].join(', ') || 'none';
      report(['workload'], `unknown workload ${JSON.stringify(e.workload)}; workloads of this scenario: ${known}`);
      continue;
    }
    if (e.port !== undefined && w && !w.ports.some((p) => p.port === e.port)) {
      report(['port'], `${e.port} is not a port of workload ${e.workload}; its ports: ${w.ports.map((p) => p.port).join(', ')}`);
      continue;
    }
    const runsIn = scenarioMode === 'both' ? ['sidecar', 'ambient'] : [scenarioMode ?? DEFAULTS.mode];
    if (e.meshMode !== undefined && !runsIn.includes(e.meshMode)) {
      report(['meshMode'], `${e.meshMode}: this scenario runs in ${String(scenarioMode ?? DEFAULTS.mode)} mode only; meshMode scopes an entry of a \`mode: both\` scenario`);
      continue;
    }
    const outcomes: Record<string, ExpectedOutcome> = {};
    for (const k of OUTCOME_KEYS) {
      const v = e[k];
      if (typeof v === 'string') outcomes[k] = v as ExpectedOutcome;
    }
    if (e.mode === undefined && Object.keys(outcomes).length === 0) {
      report([], `expect entry for ${e.workload} states nothing; give mode or at least one outcome (${OUTCOME_KEYS.join(', ')})`);
      continue;
    }
    out.push({
      workload: e.workload,
      ...(e.port !== undefined ? { port: e.port } : {}),
      ...(e.meshMode !== undefined ? { meshMode: e.meshMode } : {}),
      ...(e.mode !== undefined ? { mode: e.mode } : {}),
      outcomes,
      source: doc.pos(base),
    });
  }
  return out;
}
