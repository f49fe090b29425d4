import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { PeerAuthenticationManifest, Policy, PolicyMode, ScenarioWarning, SourcePos } from '../model/index.js';
import { formatPos } from '../util/errors.js';
import type { Diagnostic, PathSeg } from './diagnostics.js';
import { isRecord } from './is-record.js';
import { k8sNames } from './k8s-names.js';
import { fileRefCheck, listCheck } from './policy-schema.js';
import { validateAdmission } from './validate-admission.js';
import { readYamlSource } from './yaml-source.js';
import type { YamlDoc } from './yaml-source.js';

/** Namespace of a manifest that names none (what `kubectl apply` does without `-n`). */
export const DEFAULT_NAMESPACE = 'default';

export interface LoadPoliciesOptions {
  /** The scenario runs in ambient mode (alone or in `both`): every DISABLE gets a warning (spec R6.5). */
  readonly ambient?: boolean;
  /** `{ file: … }` references must resolve (symlinks followed) inside this folder; absent: anywhere. */
  readonly root?: string;
}

/** Where problems go: the run's Diagnostics, or a view of it that adds context. */
interface Sink {
  add(d: Diagnostic): void;
}

/** Where a value sits: a document and the path inside it. */
interface Loc {
  readonly doc: YamlDoc;
  readonly path: readonly PathSeg[];
}

/**
 * Turn `spec.policies` into Policies: inline manifests, inline `kind: List`s, and `{file: ...}` references to files of
 * one or more documents (each a manifest or a List). Every problem goes to `diags`, located in the file it is in.
 */
export async function loadPolicies(
  items: readonly unknown[],
  scenarioDoc: YamlDoc,
  basePath: readonly PathSeg[],
  diags: Sink,
  opts: LoadPoliciesOptions = {},
): Promise<{ policies: Policy[]; warnings: ScenarioWarning[] }> {
  const policies: Policy[] = [];
  const warnings: ScenarioWarning[] = [];
  const seen = new Map<string, SourcePos>();

  const addManifest = (value: unknown, loc: Loc, diags: Sink): void => {
    const result = validateAdmission(value);
    for (const e of result.errors) diags.add(loc.doc.diagnostic(e, loc.path));
    const source = loc.doc.pos(loc.path);
    // Duplicates are found even among invalid manifests, so one run reports both problems.
    const meta = isRecord(value) && isRecord(value['metadata']) ? value['metadata'] : {};
    const name = meta['name'];
    const ns = typeof meta['namespace'] === 'string' ? meta['namespace'] : DEFAULT_NAMESPACE;
    if (typeof name === 'string') {
      const id = `${ns}/${name}`;
      const first = seen.get(id);
      if (first) {
        const message = `duplicate PeerAuthentication ${id}: also defined at ${formatPos(first)}; a namespace/name may appear once per scenario`;
        diags.add(loc.doc.diagnostic({ path: ['metadata', 'name'], at: 'value', message }, loc.path));
        return;
      }
      seen.set(id, source);
    }
    const m = result.manifest;
    if (!m) return;
    let ok = true;
    if (!k8sNames.dns1123Subdomain.test(m.metadata.name)) {
      const message = `${JSON.stringify(m.metadata.name)} is not ${k8sNames.subdomainDescription}`;
      diags.add(loc.doc.diagnostic({ path: ['metadata', 'name'], at: 'value', message }, loc.path));
      ok = false;
    }
    if (m.metadata.namespace !== undefined && !k8sNames.dns1123Label.test(m.metadata.namespace)) {
      const message = `${JSON.stringify(m.metadata.namespace)} is not ${k8sNames.labelDescription}`;
      diags.add(loc.doc.diagnostic({ path: ['metadata', 'namespace'], at: 'value', message }, loc.path));
      ok = false;
    }
    if (!ok) return;
    for (const w of result.warnings) {
      const d = loc.doc.diagnostic(w, loc.path);
      if (d.pos) warnings.push({ message: d.message, source: d.pos });
    }
    const policy = toPolicy(m, ns, source);
    if (opts.ambient) warnings.push(...ambientDisableWarnings(policy, loc));
    policies.push(policy);
  };

  /** A manifest or a List of manifests; returns how many manifests it held. */
  const addTopLevel = (value: unknown, loc: Loc, diags: Sink): number => {
    if (isRecord(value) && value['kind'] === 'List') {
      for (const e of listCheck.issues(value)) diags.add(loc.doc.diagnostic(e, loc.path));
      if (!listCheck.is(value)) return 0;
      value.items.forEach((item, j) => addManifest(item, { doc: loc.doc, path: [...loc.path, 'items', j] }, diags));
      return value.items.length;
    }
    if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'] !== 'PeerAuthentication') {
      const message = `expected a PeerAuthentication manifest or a List of them, not kind ${JSON.stringify(value['kind'])}`;
      diags.add(loc.doc.diagnostic({ path: ['kind'], at: 'value', message }, loc.path));
      return 1;
    }
    addManifest(value, loc, diags);
    return 1;
  };

  for (const [i, item] of items.entries()) {
    const loc: Loc = { doc: scenarioDoc, path: [...basePath, i] };
    if (isRecord(item) && 'file' in item) {
      for (const e of fileRefCheck.issues(item)) diags.add(scenarioDoc.diagnostic(e, loc.path));
      if (!fileRefCheck.is(item)) continue;
      await addFile(item.file, loc, addTopLevel, diags, opts.root);
    } else {
      addTopLevel(item, loc, diags);
    }
  }
  return { policies, warnings };
}

type AddTopLevel = (v: unknown, l: Loc, diags: Sink) => number;

async function addFile(ref: string, loc: Loc, addTopLevel: AddTopLevel, outer: Sink, root: string | undefined): Promise<void> {
  const refPos = loc.doc.pos([...loc.path, 'file']);
  // Problems inside the referenced file are located there, and say which scenario pulled it in. They never quote
  // the file's text: a reference can name any file (a key, /etc/shadow), and errors reach terminals and CI logs.
  const diags: Sink = {
    add: (d) => outer.add(d.file === refPos.file ? d : { ...d, message: `${withoutQuotes(d.message)} (referenced from ${formatPos(refPos)})` }),
  };
  // Relative to the scenario file, and kept relative so messages show paths the way the user wrote them.
  const file = isAbsolute(ref) ? ref : join(dirname(loc.doc.file), ref);
  if (root !== undefined && !(await inside(file, root))) {
    const message = `referenced file ${file} is outside the scenario folder ${root}; policy files must be in the scenario folder tree (or pass --allow-files-outside)`;
    outer.add({ file: refPos.file, pos: refPos, message });
    return;
  }
  const src = await readYamlSource(file, refPos);
  for (const d of src.diagnostics) diags.add(d);
  if (!src.ok || src.diagnostics.length > 0) return;
  let count = 0;
  for (const doc of src.docs) {
    if (doc.empty) continue; // empty documents, e.g. a trailing `---`
    const js = doc.toJS();
    if (!js.ok) {
      diags.add(js.diagnostic);
      continue;
    }
    count += addTopLevel(js.value, { doc, path: [] }, diags);
  }
  if (count === 0) {
    const message = `policy file ${file} holds no PeerAuthentication; expected one or more manifests or Lists`;
    diags.add({ file: refPos.file, pos: refPos, message });
  }
}

/** Does `file` (symlinks followed) lie inside `root`? A file that does not exist is judged by its path. */
async function inside(file: string, root: string): Promise<boolean> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  const rel = relative(await real(root), await real(file));
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** A message about a referenced file with every quoted value replaced: it names the problem, never the content. */
function withoutQuotes(message: string): string {
  return (message.split('\n', 1)[0] ?? '').replace(/"(?:[^"\\]|\\.)*"?/g, '(value not shown)');
}

/** Every UNSET spelling (R1.2: absent, null, `{}`, `UNSET`) collapses to 'UNSET'. */
function modeOf(holder: { mode?: PolicyMode | null } | null | undefined): PolicyMode {
  return holder?.mode ?? 'UNSET';
}

function toPolicy(m: PeerAuthenticationManifest, namespace: string, source: SourcePos): Policy {
  const spec = m.spec ?? {};
  const selectorWritten = isRecord(spec.selector);
  const selector = isRecord(spec.selector) ? { ...(spec.selector.matchLabels ?? {}) } : null;
  const portLevelMtls = new Map<number, PolicyMode>(
    Object.entries(spec.portLevelMtls ?? {})
      .map(([port, entry]): [number, PolicyMode] => [Number(port), modeOf(entry)])
      .sort((a, b) => a[0] - b[0]),
  );
  // What data planes receive: the manifest as written, namespace defaulted, the ignored `status` dropped.
  const manifest = JSON.parse(JSON.stringify(m)) as PeerAuthenticationManifest & { status?: unknown };
  manifest.metadata.namespace = namespace;
  delete manifest.status;
  return {
    name: m.metadata.name,
    namespace,
    ...(m.metadata.creationTimestamp !== undefined ? { creationTimestamp: m.metadata.creationTimestamp } : {}),
    selector,
    selectorWritten,
    mode: modeOf(spec.mtls),
    portLevelMtls,
    manifest,
    source,
  };
}

/**
 * Istio accepts DISABLE in ambient mode silently and treats it as PERMISSIVE (spec R6.5): an author who meant to turn
 * mTLS off must see that it does not. One warning per DISABLE, at the mode itself.
 */
function ambientDisableWarnings(p: Policy, loc: Loc): ScenarioWarning[] {
  const out: ScenarioWarning[] = [];
  const tail = 'is not supported in ambient mode and behaves as PERMISSIVE (spec R6.5): plaintext is still accepted and mesh traffic stays HBONE mTLS';
  if (p.mode === 'DISABLE') {
    out.push({ message: `PeerAuthentication ${p.namespace}/${p.name}: mtls.mode DISABLE ${tail}`, source: loc.doc.pos([...loc.path, 'spec', 'mtls', 'mode']) });
  }
  for (const [port, mode] of p.portLevelMtls) {
    if (mode !== 'DISABLE') continue;
    out.push({
      message: `PeerAuthentication ${p.namespace}/${p.name}: portLevelMtls ${port} DISABLE ${tail}`,
      source: loc.doc.pos([...loc.path, 'spec', 'portLevelMtls', String(port), 'mode']),
    });
  }
  return out;
}
