// @ts-check
/**
 * Effective mTLS mode of every workload port in AMBIENT mode (spec §6), computed from the raw PeerAuthentication
 * manifests. Written on its own, apart from src/oracle and from the sidecar's resolver: the suite is a differential
 * check of independent readings of the spec. The ambient rules:
 *   - only STRICT and PERMISSIVE exist on the data plane: DISABLE behaves as PERMISSIVE at every level (R6.5);
 *   - a root-namespace policy counts as the mesh policy only when it has NO `selector` field; `selector: {}` or a
 *     label selector in the root namespace is ignored (R2.3, R2.5: istiod's ambient index takes `Selector == nil`);
 *   - a `selector: {}` policy in another namespace is namespace-level, as in sidecar mode (R2.5: istiod's effective
 *     mode computation tests `len(MatchLabels) == 0`);
 *   - inheritance mesh → namespace → workload → port, UNSET inherits, no policy at all is PERMISSIVE (R6.9, R6.10);
 *   - port-level entries come only from the chosen workload policy and are keyed on the workload port (R6.6);
 *   - the oldest policy wins a level, ties by name then namespace (R3.1, R3.2; R3.3 says ambient ties may differ, so
 *     the built-in suite never relies on one).
 */
import { HarnessError } from '../common/harness-error.mjs';

/** @typedef {'STRICT' | 'PERMISSIVE'} AmbientMode */
/** @typedef {'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT'} PolicyMode */
/**
 * @typedef {object} AmbientPolicy a normalised policy
 * @property {string} name
 * @property {string} namespace
 * @property {number} created creationTimestamp in ms; -Infinity when absent (older than anything)
 * @property {'absent' | 'empty' | Record<string, string>} selector `absent`: no `selector` field; `empty`: no labels
 * @property {PolicyMode} mode
 * @property {Map<number, PolicyMode>} portLevel
 */
/**
 * @typedef {object} AmbientResolution
 * @property {AmbientMode} mode the workload-level mode (ports without a port-level entry)
 * @property {Map<number, AmbientMode>} ports port-level modes of the chosen workload policy
 * @property {{ mesh: AmbientPolicy | null, namespace: AmbientPolicy | null, workload: AmbientPolicy | null }} chosen
 */

const POLICY_MODES = /** @type {readonly PolicyMode[]} */ (['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
/** kubectl's namespace for a manifest without one. */
const DEFAULT_NAMESPACE = 'default';

/**
 * @param {{ namespace: string, labels: Record<string, string> }} workload
 * @param {readonly AmbientPolicy[]} policies every policy of the scenario
 * @param {string} rootNamespace
 * @returns {AmbientResolution}
 */
export function resolveAmbient(workload, policies, rootNamespace) {
  const inRoot = policies.filter((p) => p.namespace === rootNamespace);
  const inOwn = workload.namespace === rootNamespace ? [] : policies.filter((p) => p.namespace === workload.namespace);
  const mesh = oldest(inRoot.filter((p) => p.selector === 'absent'));
  const namespace = oldest(inOwn.filter((p) => p.selector === 'absent' || p.selector === 'empty'));
  const wl = oldest(inOwn.filter((p) => typeof p.selector === 'object' && matches(p.selector, workload.labels)));

  /** @type {AmbientMode} */
  let mode = 'PERMISSIVE';
  for (const level of [mesh, namespace, wl]) if (level) mode = onDataPlane(level.mode, mode);
  /** @type {Map<number, AmbientMode>} */
  const ports = new Map();
  if (wl) for (const [port, m] of wl.portLevel) ports.set(port, onDataPlane(m, mode));
  return { mode, ports, chosen: { mesh, namespace, workload: wl } };
}

/**
 * @param {AmbientResolution} resolution
 * @param {number} port workload port
 * @returns {AmbientMode}
 */
export function ambientModeForPort(resolution, port) {
  return resolution.ports.get(port) ?? resolution.mode;
}

/**
 * What a policy mode means on an ambient data plane, given the mode it would inherit.
 * @param {PolicyMode} own
 * @param {AmbientMode} inherited
 * @returns {AmbientMode}
 */
function onDataPlane(own, inherited) {
  switch (own) {
    case 'UNSET':
      return inherited;
    case 'DISABLE':
    case 'PERMISSIVE':
      return 'PERMISSIVE';
    case 'STRICT':
      return 'STRICT';
  }
}

/**
 * @param {Record<string, string>} selector non-empty matchLabels
 * @param {Record<string, string>} labels
 */
function matches(selector, labels) {
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/**
 * @param {readonly AmbientPolicy[]} list
 * @returns {AmbientPolicy | null}
 */
function oldest(list) {
  /** @type {AmbientPolicy | null} */
  let best = null;
  for (const p of list) {
    if (best === null || p.created < best.created || (p.created === best.created && (p.name < best.name || (p.name === best.name && p.namespace < best.namespace)))) {
      best = p;
    }
  }
  return best;
}

/**
 * Normalise one manifest, keeping what ambient mode distinguishes (`selector` absent vs `selector: {}`); every
 * spelling of UNSET (R1.2) becomes 'UNSET'. Throws a HarnessError naming the policy.
 * @param {unknown} manifest
 * @param {number} index position in the config's policy list
 * @returns {AmbientPolicy}
 */
export function normalizeAmbientPolicy(manifest, index) {
  const where = `policies[${index}]`;
  if (!isObject(manifest)) throw new HarnessError(`${where}: not an object`);
  if (manifest.kind !== 'PeerAuthentication') throw new HarnessError(`${where}: kind is ${JSON.stringify(manifest.kind)}, expected PeerAuthentication`);
  const meta = manifest.metadata;
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') throw new HarnessError(`${where}: metadata.name missing`);
  const id = `${where} (${meta.name})`;
  const namespace = meta.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || namespace === '') throw new HarnessError(`${id}: metadata.namespace is not a non-empty string`);
  let created = -Infinity;
  if (meta.creationTimestamp !== undefined && meta.creationTimestamp !== null) {
    created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN;
    if (Number.isNaN(created)) throw new HarnessError(`${id}: metadata.creationTimestamp ${JSON.stringify(meta.creationTimestamp)} is not an RFC 3339 time`);
  }
  const spec = manifest.spec ?? {};
  if (!isObject(spec)) throw new HarnessError(`${id}: spec is not an object`);

  /** @type {AmbientPolicy['selector']} */
  let selector = 'absent';
  if (spec.selector !== undefined && spec.selector !== null) {
    if (!isObject(spec.selector)) throw new HarnessError(`${id}: spec.selector is not an object`);
    const ml = spec.selector.matchLabels ?? {};
    if (!isObject(ml)) throw new HarnessError(`${id}: spec.selector.matchLabels is not an object`);
    for (const [k, v] of Object.entries(ml)) if (typeof v !== 'string') throw new HarnessError(`${id}: selector label ${k} is not a string`);
    selector = Object.keys(ml).length === 0 ? 'empty' : /** @type {Record<string, string>} */ ({ ...ml });
  }

  /** @type {Map<number, PolicyMode>} */
  const portLevel = new Map();
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
    if (!isObject(spec.portLevelMtls)) throw new HarnessError(`${id}: spec.portLevelMtls is not an object`);
    for (const [key, value] of Object.entries(spec.portLevelMtls)) {
      const port = /^[0-9]{1,5}$/.test(key) ? Number(key) : NaN;
      if (!(port >= 1 && port <= 65535)) throw new HarnessError(`${id}: spec.portLevelMtls key ${JSON.stringify(key)} is not a port 1-65535`);
      portLevel.set(port, policyMode(value, `${id}: spec.portLevelMtls.${key}`));
    }
  }
  return { name: meta.name, namespace, created, selector, mode: policyMode(spec.mtls, `${id}: spec.mtls`), portLevel };
}

/**
 * @param {unknown} mtls `{ mode }`, `{}`, null or undefined
 * @param {string} where
 * @returns {PolicyMode}
 */
function policyMode(mtls, where) {
  if (mtls === undefined || mtls === null) return 'UNSET';
  if (!isObject(mtls)) throw new HarnessError(`${where} is not an object`);
  const m = mtls.mode;
  if (m === undefined || m === null) return 'UNSET';
  if (typeof m === 'string' && POLICY_MODES.includes(/** @type {PolicyMode} */ (m))) return /** @type {PolicyMode} */ (m);
  throw new HarnessError(`${where}.mode ${JSON.stringify(m)} is not one of ${POLICY_MODES.join(', ')}`);
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
