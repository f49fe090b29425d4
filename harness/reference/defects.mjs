// @ts-check
import { HarnessError } from '../common/harness-error.mjs';

/**
 * Deliberate defects that can be planted in the reference sidecar (env `MESHCONFORM_DEFECTS`, comma list) so a
 * suite run can prove it catches a broken mesh (`meshconform mutate`). Each is a realistic mesh bug planted as a
 * small change in the one step it breaks: policy resolution (policy.mjs), the chain decision (decide.mjs), the
 * data path (connection.mjs) or the TLS terminator (workload-runtime.mjs, sidecar.mjs).
 *
 * This list is the ONE catalogue: the CLI reads it by running `node harness/reference/sidecar.mjs --list-defects`
 * (src/ never imports harness/), so `--defect` validation and `mutate` can never drift from what the proxy plants.
 * Unknown names are refused, so a run never silently ignores a defect it was asked to plant.
 *
 * `kind`: a `static` defect is visible to a suite run against a proxy at rest; a `chaos` defect only shows while
 * something happens to the proxy (a restart, a SIGHUP reload, a certificate rotation), so only a chaos run can catch
 * it and mutation testing of the static suite must leave it out. A defect with a `parameter` takes a value as
 * `name=<value>` in the list (e.g. `fail-open-window=100`); without one it uses the parameter's default.
 *
 * `claims`: under which `--claim` the defect breaks conformance. `spec`: PeerAuthentication's required outcomes;
 * `istio`: Istio's reference outcomes. A defect that only changes what Envoy's HTTP codec would answer (e.g. relaying
 * raw TCP on an HTTP port) is a defect under `istio` alone; `mutate --claim <c>` plants the defects of claim c.
 */

/** @typedef {'policy' | 'connection' | 'tls'} DefectLayer */
/** @typedef {'static' | 'chaos'} DefectKind */
/** @typedef {'spec' | 'istio'} Claim */
/**
 * @typedef {object} DefectParameter
 * @property {'ms'} unit milliseconds, an integer from 1 to 86400000
 * @property {number | null} default null: unbounded
 * @property {string} description
 */
/**
 * @typedef {object} DefectInfo
 * @property {string} name
 * @property {DefectLayer} layer
 * @property {DefectKind} kind
 * @property {string} description
 * @property {readonly Claim[]} claims the claims under which it is a defect
 * @property {DefectParameter} [parameter]
 */

/** Defect fail-open-window starts at this epoch time (ms) instead of when the first SIGHUP reload is done. */
export const FAIL_OPEN_AT_ENV = 'MESHCONFORM_FAIL_OPEN_AT';
const MAX_PARAMETER_MS = 86_400_000;

/** A defect under both claims: it breaks what PeerAuthentication requires, so Istio's outcomes too. */
const BOTH = /** @type {readonly Claim[]} */ (Object.freeze(['spec', 'istio']));
/** Only Istio's reference outcomes break: a data plane doing this still does what PeerAuthentication requires. */
const ISTIO_ONLY = /** @type {readonly Claim[]} */ (Object.freeze(['istio']));

/** @type {readonly DefectInfo[]} */
export const DEFECTS = Object.freeze([
  // connection handling (decide.mjs / connection.mjs)
  { name: 'strict-accepts-plaintext', layer: 'connection', kind: 'static', claims: BOTH, description: 'STRICT ports accept plaintext (fail open)' },
  {
    name: 'strict-http-accepts-plaintext',
    layer: 'connection',
    kind: 'static',
    claims: BOTH,
    description: 'STRICT HTTP-declared ports accept plaintext (fail open on HTTP ports only; TCP ports still refuse it)',
  },
  {
    name: 'strict-requires-istio-alpn',
    layer: 'connection',
    kind: 'static',
    claims: BOTH,
    description: 'STRICT ports refuse mTLS without an Istio ALPN (STRICT must not check ALPN, istio#40680)',
  },
  { name: 'permissive-rejects-plaintext', layer: 'connection', kind: 'static', claims: BOTH, description: 'PERMISSIVE ports refuse plaintext' },
  {
    name: 'permissive-passes-istio-alpn-through',
    layer: 'connection',
    kind: 'static',
    claims: BOTH,
    description: 'PERMISSIVE ports do not recognise Istio mTLS: the TLS is passed to the app (tcp) or closed (http)',
  },
  {
    name: 'disable-terminates-tls',
    layer: 'connection',
    kind: 'static',
    claims: BOTH,
    description: 'DISABLE ports terminate TLS with the workload certificate instead of passing it through',
  },
  {
    name: 'http-port-accepts-raw-tcp',
    layer: 'connection',
    kind: 'static',
    claims: ISTIO_ONLY,
    description: 'HTTP-declared ports forward non-HTTP plaintext bytes instead of answering a protocol error',
  },
  {
    name: 'mx-drops-first-bytes',
    layer: 'connection',
    kind: 'static',
    claims: BOTH,
    description: "the server writes Istio's metadata-exchange preamble (ALPN istio-peer-exchange) but drops the client's first bytes",
  },
  // peer verification and server identity (workload-runtime.mjs / connection.mjs / sidecar.mjs)
  {
    name: 'strict-accepts-no-client-cert',
    layer: 'tls',
    kind: 'static',
    claims: BOTH,
    description: 'the mTLS terminator does not require a client certificate (a presented one is still verified)',
  },
  { name: 'accept-any-ca', layer: 'tls', kind: 'static', claims: BOTH, description: 'client certificates are not checked against the mesh trust bundle' },
  { name: 'accept-expired', layer: 'tls', kind: 'static', claims: BOTH, description: 'expired (or not yet valid) client certificates are accepted' },
  { name: 'ignore-trust-domain', layer: 'tls', kind: 'static', claims: BOTH, description: 'any spiffe:// client identity is accepted, whatever its trust domain' },
  {
    name: 'wrong-server-identity',
    layer: 'tls',
    kind: 'static',
    claims: BOTH,
    description: "the proxy presents another workload's mesh certificate (a mixed-up SDS secret): the next workload config beside its own",
  },
  // policy resolution (policy.mjs)
  { name: 'ignore-port-level', layer: 'policy', kind: 'static', claims: BOTH, description: 'portLevelMtls is ignored: every port gets the workload mode' },
  {
    name: 'port-level-on-service-port',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'portLevelMtls keys are read as Service ports (httpbin layout: Service port = workload port - 80), so key K applies to workload port K+80 (istio#49098)',
  },
  { name: 'ignore-selector', layer: 'policy', kind: 'static', claims: BOTH, description: 'a workload policy applies to every workload of its namespace, whatever the selector' },
  {
    name: 'selector-matches-any-label',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'a selector matches a workload that has any one of its labels (OR instead of subset)',
  },
  {
    name: 'cross-namespace-policies',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'policies of every namespace are candidates, not only the workload and root namespaces',
  },
  {
    name: 'root-selector-applied',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'root-namespace selector policies are applied to matching workloads of every namespace (istio/api#3031 reading)',
  },
  { name: 'newest-wins', layer: 'policy', kind: 'static', claims: BOTH, description: 'the newest policy wins a conflict instead of the oldest' },
  {
    name: 'namespace-overrides-workload',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'a namespace policy overrides the workload policy (inheritance order swapped)',
  },
  {
    name: 'merge-port-maps',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'portLevelMtls of every matching workload policy is merged, not only the oldest one (istio#48036)',
  },
  {
    name: 'unset-workload-no-inherit',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'a workload policy with mode UNSET means PERMISSIVE instead of inheriting the namespace/mesh mode',
  },
  {
    name: 'unset-port-no-inherit',
    layer: 'policy',
    kind: 'static',
    claims: BOTH,
    description: 'a port-level UNSET entry means PERMISSIVE instead of inheriting the workload mode',
  },
  // chaos: only visible while the proxy restarts, reloads or rotates certificates (sidecar.mjs, workload-runtime.mjs)
  {
    name: 'fail-open-on-restart',
    layer: 'connection',
    kind: 'chaos',
    claims: BOTH,
    description:
      'after a restart, STRICT ports accept plaintext for the first <ms> of serving (a proxy that serves before its policy is loaded); the first start of a config is not a restart',
    parameter: { unit: 'ms', default: 1500, description: 'how long the restarted proxy fails open' },
  },
  {
    name: 'fail-open-window',
    layer: 'connection',
    kind: 'chaos',
    claims: BOTH,
    description: `STRICT ports accept plaintext for exactly <ms>, from the end of the first SIGHUP reload (or from the epoch time in ${FAIL_OPEN_AT_ENV}): a fail-open window of known length`,
    parameter: { unit: 'ms', default: 1000, description: 'length of the window' },
  },
  {
    name: 'stale-policy-after-reload',
    layer: 'policy',
    kind: 'chaos',
    claims: BOTH,
    description: 'SIGHUP re-reads the config but keeps enforcing the policies the proxy started with (certificates still reload)',
  },
  {
    name: 'accept-expired-during-rotation',
    layer: 'tls',
    kind: 'chaos',
    claims: BOTH,
    description: 'after a SIGHUP that changed the TLS material (certificate, key or trust bundle), expired or not yet valid client certificates are accepted',
    parameter: { unit: 'ms', default: null, description: 'how long after the rotation (default: until the proxy exits)' },
  },
]);

export const KNOWN_DEFECTS = /** @type {readonly string[]} */ (Object.freeze(DEFECTS.map((d) => d.name)));
/** What mutation testing of the static suite plants by default. */
export const STATIC_DEFECTS = /** @type {readonly string[]} */ (Object.freeze(DEFECTS.filter((d) => d.kind === 'static').map((d) => d.name)));
/** What only a chaos run can catch. */
export const CHAOS_DEFECTS = /** @type {readonly string[]} */ (Object.freeze(DEFECTS.filter((d) => d.kind === 'chaos').map((d) => d.name)));

/** @typedef {ReadonlySet<string>} Defects */
/**
 * @typedef {object} DefectSpec
 * @property {Defects} defects the planted names
 * @property {ReadonlyMap<string, number | null>} parameters every planted defect that takes a parameter → its value
 *   (the catalogue default when the list gave none)
 */

/**
 * @param {string | undefined} value the env value
 * @returns {Defects}
 */
export function parseDefects(value) {
  return parseDefectSpec(value).defects;
}

/**
 * `MESHCONFORM_DEFECTS` with parameters: `a,b=100`.
 * @param {string | undefined} value the env value
 * @returns {DefectSpec}
 */
export function parseDefectSpec(value) {
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const named = items.map((item) => {
    const eq = item.indexOf('=');
    return eq < 0 ? { name: item, raw: undefined } : { name: item.slice(0, eq).trim(), raw: item.slice(eq + 1).trim() };
  });
  const unknown = named.filter((n) => !KNOWN_DEFECTS.includes(n.name)).map((n) => n.name);
  if (unknown.length > 0) {
    throw new HarnessError(`MESHCONFORM_DEFECTS: unknown defect ${unknown.map((n) => `'${n}'`).join(', ')} (known: ${KNOWN_DEFECTS.join(', ')})`);
  }
  /** @type {Map<string, number | null>} */
  const parameters = new Map();
  for (const { name, raw } of named) {
    const info = /** @type {DefectInfo} */ (DEFECTS.find((d) => d.name === name));
    if (!info.parameter) {
      if (raw !== undefined) throw new HarnessError(`MESHCONFORM_DEFECTS: defect '${name}' takes no parameter, got '${name}=${raw}'`);
      continue;
    }
    if (raw === undefined) {
      if (!parameters.has(name)) parameters.set(name, info.parameter.default);
      continue;
    }
    const ms = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(Number.isSafeInteger(ms) && ms >= 1 && ms <= MAX_PARAMETER_MS)) {
      throw new HarnessError(`MESHCONFORM_DEFECTS: '${name}=${raw}': the parameter is a duration in milliseconds, an integer from 1 to ${MAX_PARAMETER_MS}`);
    }
    parameters.set(name, ms);
  }
  return { defects: new Set(named.map((n) => n.name)), parameters };
}

/**
 * `MESHCONFORM_FAIL_OPEN_AT` (epoch milliseconds), when defect fail-open-window is planted.
 * @param {string | undefined} value
 * @returns {number | undefined} undefined when unset: the window opens when the first SIGHUP reload is done
 */
export function parseFailOpenAt(value) {
  if (value === undefined || value.trim() === '') return undefined;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new HarnessError(`${FAIL_OPEN_AT_ENV} must be a time in epoch milliseconds (like Date.now()), got ${JSON.stringify(value)}`);
  return n;
}
