// @ts-check
/**
 * The data-plane contract's workload config file (src/model/data-plane.ts `WorkloadConfig`, written by
 * src/backend/workload-config.ts): reading it and checking it, for every data plane of the harness. The rules are
 * those of schemas/workload-config.schema.json, one for one (harness code cannot load the schema: it runs where only
 * harness/ is copied), plus the two cross-field rules JSON Schema cannot express; test/harness/workload-config.test.ts
 * holds the schema and this checker to the same verdict on hostile input. A problem is one HarnessError naming the
 * field path, e.g. `workload.ports[2].protocol: expected one of tcp, http, got "udp"`.
 */
import { readFileSync } from 'node:fs';
import { HarnessError, describeError } from './harness-error.mjs';

export const WORKLOAD_CONFIG_API_VERSION = 'meshconform.dev/v1alpha1';
export const MESH_MODES = /** @type {const} */ (['sidecar', 'ambient']);
export const POLICY_MODES = /** @type {const} */ (['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

const PORT = '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const SUBDOMAIN = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*';
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?';

/** The schema's patterns (ECMAScript, matched with the `u` flag as JSON Schema validators do); a test compares them. */
export const PATTERNS = Object.freeze({
  dnsLabel: '^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$',
  dnsSubdomain: `^${SUBDOMAIN}$`,
  labelKey: `^(?:(?=[^/]{1,253}/)${SUBDOMAIN}/)?(?=.{1,63}$)${LABEL_NAME}$`,
  labelValue: `^(?:${LABEL_NAME})?$`,
  ipv4: `^(?:${OCTET}\\.){3}${OCTET}$`,
  portKey: `^${PORT}$`,
  policyPortKey: `^0*${PORT}$`,
  absolutePath: '^/[^\\u0000]*$',
  trustDomain: '^[a-z0-9._-]+$',
  creationTimestamp: '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$',
  noWildcard: '^[^*]+$',
});

/** @typedef {'tcp' | 'http'} PortProtocol */
/** @typedef {(typeof MESH_MODES)[number]} MeshMode */
/** @typedef {(typeof POLICY_MODES)[number]} PolicyMode */
/** @typedef {{ mode?: PolicyMode | null } | null} ModeHolder */
/**
 * A PeerAuthentication manifest as the harness writes it (admitted by its scenario loader, namespace filled in).
 * @typedef {object} PeerAuthenticationManifest
 * @property {'security.istio.io/v1' | 'security.istio.io/v1beta1'} apiVersion
 * @property {'PeerAuthentication'} kind
 * @property {{ name: string, namespace: string, creationTimestamp?: string, labels?: Record<string, string>,
 *   annotations?: Record<string, string>, [field: string]: unknown }} metadata
 * @property {{ selector?: { matchLabels?: Record<string, string> | null } | null, mtls?: ModeHolder,
 *   portLevelMtls?: Record<string, ModeHolder> | null } | null} [spec]
 */
/**
 * @typedef {object} WorkloadConfig
 * @property {typeof WORKLOAD_CONFIG_API_VERSION} apiVersion
 * @property {{ name: string, namespace: string, labels: Record<string, string>, serviceAccount: string, address: string,
 *   ports: { port: number, protocol: PortProtocol }[] }} workload
 * @property {{ address: string, ports: Record<string, number> }} app workload port (decimal string) → app port
 * @property {{ mode: MeshMode, rootNamespace: string, trustDomain: string }} mesh
 * @property {{ certFile: string, keyFile: string, caFile: string }} tls
 * @property {PeerAuthenticationManifest[]} policies
 */

/**
 * Read, parse and check a workload config file, then let the data plane refine it (its mesh mode, its own fields,
 * its policy normaliser) under the same error prefix: `workload config <file>: <field path>: <problem>`.
 * @template T
 * @param {string} file
 * @param {(config: WorkloadConfig) => T} refine
 * @returns {T}
 */
export function loadWorkloadConfigFile(file, refine) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HarnessError(`cannot read workload config ${file}: ${describeError(err)}`, { cause: err });
  }
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new HarnessError(`workload config ${file} is not valid JSON: ${describeError(err)}`, { cause: err });
  }
  try {
    return refine(checkWorkloadConfig(raw));
  } catch (err) {
    throw new HarnessError(`workload config ${file}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Check parsed JSON against the contract; the same value, typed, when it conforms.
 * @param {unknown} raw
 * @returns {WorkloadConfig}
 */
export function checkWorkloadConfig(raw) {
  CONFIG(raw, '');
  const config = /** @type {WorkloadConfig} */ (raw);
  checkPortsAgree(config);
  return config;
}

/**
 * The rules JSON Schema cannot express: declared ports are unique, and app.ports maps exactly the declared ports.
 * @param {WorkloadConfig} config
 */
function checkPortsAgree(config) {
  /** @type {Map<number, number>} */
  const first = new Map();
  for (const [i, { port }] of config.workload.ports.entries()) {
    const j = first.get(port);
    if (j !== undefined) throw problem(`workload.ports[${i}].port`, `port ${port} is declared twice (also workload.ports[${j}].port)`);
    first.set(port, i);
  }
  for (const port of first.keys()) {
    if (!Object.hasOwn(config.app.ports, String(port))) throw problem(at('app.ports', String(port)), `missing: declared port ${port} needs an app port`);
  }
  for (const key of Object.keys(config.app.ports)) {
    if (!first.has(Number(key))) throw problem(at('app.ports', key), `port ${key} is not declared in workload.ports`);
  }
}

// ---- Checks: each takes the value and its field path, throws a HarnessError naming the path.

/** @typedef {(value: unknown, path: string) => void} Check */
/** @typedef {{ what: string, test: (value: unknown) => boolean }} Rule */

/**
 * @param {string} path
 * @param {string} text
 */
function problem(path, text) {
  return new HarnessError(`${path || '(top level)'}: ${text}`);
}

/**
 * @param {string} path
 * @param {string} key
 */
function at(path, key) {
  const step = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? (path ? `.${key}` : key) : `[${JSON.stringify(clip(key))}]`;
  return `${path}${step}`;
}

/** @param {string} s */
function clip(s) {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** @param {unknown} v */
function shown(v) {
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(clip(v))} (${v.length} characters)` : JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return v === undefined ? 'nothing' : String(v);
}

/**
 * Length in code points (surrogate pairs count once), as JSON Schema's minLength and maxLength count.
 * @param {string} s
 */
function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return n;
}

/**
 * A string rule: JSON Schema's minLength, maxLength and pattern.
 * @param {string} what
 * @param {{ min?: number, max: number, pattern?: string }} o
 * @returns {Rule}
 */
function text(what, { min = 1, max, pattern }) {
  const re = pattern === undefined ? undefined : new RegExp(pattern, 'u');
  const sized = (/** @type {string} */ s) => s.length >= min && (s.length <= max || (s.length <= 2 * max && codePoints(s) <= max));
  return { what, test: (v) => typeof v === 'string' && sized(v) && (re === undefined || re.test(v)) };
}

/**
 * @param {readonly unknown[]} values
 * @returns {Rule}
 */
function oneOf(values) {
  const what = values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => (typeof v === 'string' ? v : String(v))).join(', ')}`;
  return { what, test: (v) => values.includes(v) };
}

/** @type {Rule} */
const PORT_NUMBER = { what: 'a port number 1-65535', test: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 };
/** @type {Rule} */
const ANY_STRING = { what: 'a string', test: (v) => typeof v === 'string' };

/**
 * @param {Rule} rule
 * @returns {Check}
 */
function value(rule) {
  return (v, path) => {
    if (!rule.test(v)) throw problem(path, `expected ${rule.what}, got ${shown(v)}`);
  };
}

/**
 * @param {unknown} v
 * @param {string} path
 * @param {string} what
 * @returns {Record<string, unknown>}
 */
function record(v, path, what) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw problem(path, `expected ${what}, got ${shown(v)}`);
  return /** @type {Record<string, unknown>} */ (v);
}

/**
 * An object with these fields; closed (no other field) unless `open`.
 * @param {Record<string, Check>} required
 * @param {Record<string, Check>} [optional]
 * @param {{ open?: boolean, what?: string }} [o]
 * @returns {Check}
 */
function object(required, optional = {}, { open = false, what = 'an object' } = {}) {
  const known = [...Object.keys(required), ...Object.keys(optional)];
  const fields = [...Object.entries(required), ...Object.entries(optional)];
  return (v, path) => {
    const o = record(v, path, what);
    for (const k of Object.keys(required)) if (!Object.hasOwn(o, k)) throw problem(at(path, k), 'missing (required)');
    if (!open) for (const k of Object.keys(o)) if (!known.includes(k)) throw problem(at(path, k), `unknown field; allowed: ${known.join(', ')}`);
    for (const [k, check] of fields) if (Object.hasOwn(o, k)) check(o[k], at(path, k));
  };
}

/**
 * An object used as a map: every key follows `key`, every value `entry`.
 * @param {Rule} key
 * @param {Check} entry
 * @param {number} [min] fewest entries
 * @returns {Check}
 */
function map(key, entry, min = 0) {
  return (v, path) => {
    const keys = Object.keys(record(v, path, 'an object'));
    if (keys.length < min) throw problem(path, `expected at least ${min} entr${min === 1 ? 'y' : 'ies'}, got ${keys.length}`);
    for (const k of keys) {
      if (!key.test(k)) throw problem(at(path, k), `expected a key that is ${key.what}`);
      entry(/** @type {Record<string, unknown>} */ (v)[k], at(path, k));
    }
  };
}

/**
 * @param {Check} item
 * @param {number} [min] fewest items
 * @returns {Check}
 */
function array(item, min = 0) {
  return (v, path) => {
    if (!Array.isArray(v)) throw problem(path, `expected an array, got ${shown(v)}`);
    if (v.length < min) throw problem(path, `expected at least ${min} item${min === 1 ? '' : 's'}, got ${v.length}`);
    v.forEach((x, i) => item(x, `${path}[${i}]`));
  };
}

/**
 * JSON Schema's `anyOf: [{ type: null }, …]`.
 * @param {Check} check
 * @returns {Check}
 */
function nullable(check) {
  return (v, path) => {
    if (v !== null) check(v, path);
  };
}

// ---- The contract, field by field, as schemas/workload-config.schema.json states it.

const DNS_LABEL = text('a DNS-1123 label (at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit)', {
  max: 63,
  pattern: PATTERNS.dnsLabel,
});
const DNS_SUBDOMAIN = text('a DNS-1123 subdomain (at most 253 lowercase letters, digits, "-" and ".")', { max: 253, pattern: PATTERNS.dnsSubdomain });
const IPV4 = text('an IPv4 address (dotted decimal, no leading zeros)', { min: 7, max: 15, pattern: PATTERNS.ipv4 });
const ABSOLUTE_PATH = text('an absolute file path (at most 4096 characters, no NUL)', { max: 4096, pattern: PATTERNS.absolutePath });
const LABELS = map(
  text('a Kubernetes label key', { max: 317, pattern: PATTERNS.labelKey }),
  value(text('a Kubernetes label value (empty, or at most 63 letters, digits, "-", "_" and ".")', { min: 0, max: 63, pattern: PATTERNS.labelValue })),
);
const STRING_MAP = map(ANY_STRING, value(ANY_STRING));
const MODE_HOLDER = nullable(object({}, { mode: value(oneOf([...POLICY_MODES, null])) }, { what: 'null or an object' }));

const WORKLOAD = object({
  name: value(DNS_LABEL),
  namespace: value(DNS_LABEL),
  labels: LABELS,
  serviceAccount: value(DNS_SUBDOMAIN),
  address: value(IPV4),
  ports: array(object({ port: value(PORT_NUMBER), protocol: value(oneOf(['tcp', 'http'])) }), 1),
});

const APP = object({
  address: value(IPV4),
  ports: map(text('a port number 1-65535 without leading zeros', { max: 5, pattern: PATTERNS.portKey }), value(PORT_NUMBER), 1),
});

const MESH = object({
  mode: value(oneOf(MESH_MODES)),
  rootNamespace: value(DNS_LABEL),
  trustDomain: value(text('a SPIFFE trust domain (at most 255 lowercase letters, digits, ".", "-" and "_")', { max: 255, pattern: PATTERNS.trustDomain })),
});

const TLS = object({ certFile: value(ABSOLUTE_PATH), keyFile: value(ABSOLUTE_PATH), caFile: value(ABSOLUTE_PATH) });

const NO_WILDCARD = text('a non-empty string without "*"', { max: Number.MAX_SAFE_INTEGER, pattern: PATTERNS.noWildcard });
const SPEC = nullable(
  object(
    {},
    {
      selector: nullable(object({}, { matchLabels: nullable(map(NO_WILDCARD, value(NO_WILDCARD))) }, { what: 'null or an object' })),
      mtls: MODE_HOLDER,
      portLevelMtls: nullable(map(text('a port number 1-65535 (at most 5 digits)', { max: 5, pattern: PATTERNS.policyPortKey }), MODE_HOLDER)),
    },
    { what: 'null or an object' },
  ),
);

const METADATA = object(
  { name: value(DNS_SUBDOMAIN), namespace: value(DNS_LABEL) },
  {
    creationTimestamp: value(text('an RFC 3339 time such as "2024-01-01T00:00:00Z"', { max: 64, pattern: PATTERNS.creationTimestamp })),
    labels: STRING_MAP,
    annotations: STRING_MAP,
  },
  { open: true },
);

const POLICY = object(
  { apiVersion: value(oneOf(['security.istio.io/v1', 'security.istio.io/v1beta1'])), kind: value(oneOf(['PeerAuthentication'])), metadata: METADATA },
  { spec: SPEC },
);

const CONFIG = object({
  apiVersion: value(oneOf([WORKLOAD_CONFIG_API_VERSION])),
  workload: WORKLOAD,
  app: APP,
  mesh: MESH,
  tls: TLS,
  policies: array(POLICY),
});
