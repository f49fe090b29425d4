// @ts-check
/**
 * Effective mTLS mode of every workload port in sidecar mode (spec §2–§4), computed from the raw PeerAuthentication
 * manifests. Deliberately independent of src/oracle (the two are checked against each other), and split into small
 * steps so a planted defect (see defects.mjs) replaces exactly one of them.
 */
import { HarnessError } from '../common/harness-error.mjs';

/** @typedef {'STRICT' | 'PERMISSIVE' | 'DISABLE'} MtlsMode */
/** @typedef {MtlsMode | 'UNSET'} PolicyMode */
/** @typedef {'mesh' | 'namespace' | 'workload' | 'ignored'} Scope */
/**
 * @typedef {object} PeerAuthentication a normalised policy
 * @property {string} name
 * @property {string} namespace
 * @property {number} created creationTimestamp in ms; -Infinity when absent (Go's zero time: older than anything)
 * @property {Record<string, string> | null} selector matchLabels; null when absent or empty (R2.5 sidecar)
 * @property {PolicyMode} mode
 * @property {Map<number, PolicyMode>} portLevel
 */
/**
 * @typedef {object} WorkloadIdentity
 * @property {string} namespace
 * @property {Record<string, string>} labels
 */
/**
 * @typedef {object} ModeResolution
 * @property {MtlsMode} mode the workload-level mode (ports without a port-level entry)
 * @property {Map<number, MtlsMode>} ports port-level overrides from the chosen workload policy
 * @property {{ mesh: PeerAuthentication | null, namespace: PeerAuthentication | null, workload: PeerAuthentication | null }} chosen
 */

const MODES = /** @type {readonly PolicyMode[]} */ (['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

/** Namespace of a manifest without one (kubectl's default); the harness normally writes it explicitly. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * Resolve the effective modes of one workload.
 * @param {WorkloadIdentity} workload
 * @param {readonly PeerAuthentication[]} policies every policy of the scenario
 * @param {string} rootNamespace
 * @param {ReadonlySet<string>} [defects]
 * @returns {ModeResolution}
 */
export function resolveModes(workload, policies, rootNamespace, defects = new Set()) {
  const candidates = policies.filter((p) => appliesTo(p, workload, rootNamespace, defects));
  const mesh = pickOldest(
    candidates.filter((p) => scopeOf(p, rootNamespace, defects) === 'mesh'),
    defects,
  );
  const namespace = pickOldest(
    candidates.filter((p) => scopeOf(p, rootNamespace, defects) === 'namespace'),
    defects,
  );
  const workloadLevel = candidates.filter((p) => scopeOf(p, rootNamespace, defects) === 'workload');
  const wl = pickOldest(workloadLevel, defects);
  /** @type {MtlsMode} */
  let mode = 'PERMISSIVE'; // hard default: no policy at all (R4.1)
  // defect namespace-overrides-workload: the inheritance order is swapped.
  const order = defects.has('namespace-overrides-workload') ? [mesh, wl, namespace] : [mesh, namespace, wl];
  for (const level of order) {
    if (!level) continue;
    // defect unset-workload-no-inherit: an UNSET workload policy resets to PERMISSIVE.
    mode = level === wl && level.mode === 'UNSET' && defects.has('unset-workload-no-inherit') ? 'PERMISSIVE' : inherit(mode, level.mode);
  }
  const ports = portModes(wl, mode, defects);
  if (defects.has('merge-port-maps')) {
    // defect: losing workload policies contribute the ports the winner does not set (oldest first).
    const losers = [...workloadLevel].filter((p) => p !== wl).sort((a, b) => (isOlder(a, b, new Set()) ? -1 : 1));
    for (const p of losers) for (const [port, m] of portModes(p, mode, defects)) if (!ports.has(port)) ports.set(port, m);
  }
  return { mode, ports, chosen: { mesh, namespace, workload: wl } };
}

/**
 * Effective mode of one port.
 * @param {ModeResolution} resolution
 * @param {number} port workload (container) port
 * @returns {MtlsMode}
 */
export function modeForPort(resolution, port) {
  return resolution.ports.get(port) ?? resolution.mode;
}

/**
 * A policy is a candidate when it lives in the workload's namespace or the root namespace and its selector matches (R2.4).
 * @param {PeerAuthentication} p
 * @param {WorkloadIdentity} workload
 * @param {string} rootNamespace
 * @param {ReadonlySet<string>} defects
 */
export function appliesTo(p, workload, rootNamespace, defects) {
  const otherNamespace = p.namespace !== workload.namespace && p.namespace !== rootNamespace;
  if (otherNamespace && !defects.has('cross-namespace-policies')) return false;
  if (defects.has('ignore-selector') && p.namespace === workload.namespace) return true;
  if (defects.has('selector-matches-any-label') && p.selector !== null) {
    return Object.entries(p.selector).some(([k, v]) => Object.hasOwn(workload.labels, k) && workload.labels[k] === v);
  }
  return selectorMatches(p.selector, workload.labels);
}

/**
 * Subset match, case-sensitive; no selector matches everything (R2.4).
 * @param {Record<string, string> | null} selector
 * @param {Record<string, string>} labels
 */
export function selectorMatches(selector, labels) {
  if (selector === null) return true;
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/**
 * R2.2/R2.3: selector-less policies are mesh-level in the root namespace and namespace-level elsewhere; selector
 * policies are workload-level, except in the root namespace where PeerAuthentication ignores them.
 * @param {PeerAuthentication} p
 * @param {string} rootNamespace
 * @param {ReadonlySet<string>} defects
 * @returns {Scope}
 */
export function scopeOf(p, rootNamespace, defects) {
  if (p.selector === null) return p.namespace === rootNamespace ? 'mesh' : 'namespace';
  if (p.namespace === rootNamespace && !defects.has('root-selector-applied')) return 'ignored';
  return 'workload';
}

/**
 * R3.1/R3.2: the oldest policy wins; ties by name, then namespace.
 * @param {readonly PeerAuthentication[]} policies
 * @param {ReadonlySet<string>} defects
 * @returns {PeerAuthentication | null}
 */
export function pickOldest(policies, defects) {
  /** @type {PeerAuthentication | null} */
  let best = null;
  for (const p of policies) if (best === null || isOlder(p, best, defects)) best = p;
  return best;
}

/**
 * @param {PeerAuthentication} a
 * @param {PeerAuthentication} b
 * @param {ReadonlySet<string>} defects
 * @returns {boolean} a sorts strictly before b
 */
export function isOlder(a, b, defects) {
  // defect newest-wins: the timestamp comparison is reversed (ties still go by name).
  if (a.created !== b.created) return defects.has('newest-wins') ? a.created > b.created : a.created < b.created;
  if (a.name !== b.name) return a.name < b.name;
  return a.namespace < b.namespace;
}

/**
 * UNSET inherits the parent's mode (R4.1).
 * @param {MtlsMode} parent
 * @param {PolicyMode} own
 * @returns {MtlsMode}
 */
export function inherit(parent, own) {
  return own === 'UNSET' ? parent : own;
}

/** defect port-level-on-service-port: the Service port a workload port is assumed to sit behind (httpbin: 8000 → 8080). */
export const SERVICE_PORT_OFFSET = 80;

/**
 * Port-level modes come only from the chosen workload policy (R4.3); an UNSET port inherits the workload mode.
 * @param {PeerAuthentication | null} workloadPolicy
 * @param {MtlsMode} workloadMode
 * @param {ReadonlySet<string>} defects
 * @returns {Map<number, MtlsMode>}
 */
export function portModes(workloadPolicy, workloadMode, defects) {
  /** @type {Map<number, MtlsMode>} */
  const out = new Map();
  if (!workloadPolicy || defects.has('ignore-port-level')) return out;
  for (const [key, mode] of workloadPolicy.portLevel) {
    // defect port-level-on-service-port: key K is read as a Service port and applied to its target port K+80.
    const port = defects.has('port-level-on-service-port') ? key + SERVICE_PORT_OFFSET : key;
    // defect unset-port-no-inherit: an UNSET port entry means PERMISSIVE.
    out.set(port, mode === 'UNSET' && defects.has('unset-port-no-inherit') ? 'PERMISSIVE' : inherit(workloadMode, mode));
  }
  return out;
}

/**
 * Normalise one manifest (every UNSET spelling of R1.2 becomes 'UNSET'); throws a HarnessError naming the policy.
 * @param {unknown} manifest
 * @param {number} index position in the config's policy list, for messages
 * @returns {PeerAuthentication}
 */
export function normalizePolicy(manifest, index) {
  const where = `policies[${index}]`;
  if (!isObject(manifest)) throw new HarnessError(`${where}: not an object`);
  if (manifest.kind !== 'PeerAuthentication') throw new HarnessError(`${where}: kind is ${JSON.stringify(manifest.kind)}, expected PeerAuthentication`);
  const meta = manifest.metadata;
  if (!isObject(meta) || typeof meta.name !== 'string') throw new HarnessError(`${where}: metadata.name missing`);
  const id = `${where} (${meta.name})`;
  const namespace = meta.namespace === undefined || meta.namespace === null ? DEFAULT_NAMESPACE : meta.namespace;
  if (typeof namespace !== 'string' || namespace === '') throw new HarnessError(`${id}: metadata.namespace is not a string`);
  let created = -Infinity;
  if (meta.creationTimestamp !== undefined && meta.creationTimestamp !== null) {
    created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN;
    if (Number.isNaN(created)) throw new HarnessError(`${id}: metadata.creationTimestamp ${JSON.stringify(meta.creationTimestamp)} is not an RFC 3339 time`);
  }
  const spec = manifest.spec ?? {};
  if (!isObject(spec)) throw new HarnessError(`${id}: spec is not an object`);
  /** @type {Record<string, string> | null} */
  let selector = null;
  if (spec.selector !== undefined && spec.selector !== null) {
    if (!isObject(spec.selector)) throw new HarnessError(`${id}: spec.selector is not an object`);
    const ml = spec.selector.matchLabels ?? {};
    if (!isObject(ml)) throw new HarnessError(`${id}: spec.selector.matchLabels is not an object`);
    const entries = Object.entries(ml);
    for (const [k, v] of entries) if (typeof v !== 'string') throw new HarnessError(`${id}: selector label ${k} is not a string`);
    if (entries.length > 0) selector = /** @type {Record<string, string>} */ ({ ...ml });
  }
  const mode = modeOf(spec.mtls, `${id}: spec.mtls`);
  /** @type {Map<number, PolicyMode>} */
  const portLevel = new Map();
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
    if (!isObject(spec.portLevelMtls)) throw new HarnessError(`${id}: spec.portLevelMtls is not an object`);
    for (const [key, value] of Object.entries(spec.portLevelMtls)) {
      const port = /^[0-9]+$/.test(key) ? Number(key) : NaN;
      if (!(port >= 1 && port <= 65535)) throw new HarnessError(`${id}: spec.portLevelMtls key ${JSON.stringify(key)} is not a port 1-65535`);
      portLevel.set(port, modeOf(value, `${id}: spec.portLevelMtls.${key}`));
    }
  }
  return { name: meta.name, namespace, created, selector, mode, portLevel };
}

/**
 * @param {unknown} mtls `{ mode }`, `{}`, null or undefined
 * @param {string} where
 * @returns {PolicyMode}
 */
function modeOf(mtls, where) {
  if (mtls === undefined || mtls === null) return 'UNSET';
  if (!isObject(mtls)) throw new HarnessError(`${where} is not an object`);
  const m = mtls.mode;
  if (m === undefined || m === null) return 'UNSET';
  if (typeof m === 'string' && MODES.includes(/** @type {PolicyMode} */ (m))) return /** @type {PolicyMode} */ (m);
  throw new HarnessError(`${where}.mode ${JSON.stringify(m)} is not one of ${MODES.join(', ')}`);
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
