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
 */

/** @typedef {'policy' | 'connection' | 'tls'} DefectLayer */
/** @typedef {{ name: string, layer: DefectLayer, description: string }} DefectInfo */

/** @type {readonly DefectInfo[]} */
export const DEFECTS = Object.freeze([
  // connection handling (decide.mjs / connection.mjs)
  { name: 'strict-accepts-plaintext', layer: 'connection', description: 'STRICT ports accept plaintext (fail open)' },
  { name: 'strict-requires-istio-alpn', layer: 'connection', description: 'STRICT ports refuse mTLS without an Istio ALPN (STRICT must not check ALPN, istio#40680)' },
  { name: 'permissive-rejects-plaintext', layer: 'connection', description: 'PERMISSIVE ports refuse plaintext' },
  { name: 'permissive-passes-istio-alpn-through', layer: 'connection', description: 'PERMISSIVE ports do not recognise Istio mTLS: the TLS is passed to the app (tcp) or closed (http)' },
  { name: 'disable-terminates-tls', layer: 'connection', description: 'DISABLE ports terminate TLS with the workload certificate instead of passing it through' },
  { name: 'http-port-accepts-raw-tcp', layer: 'connection', description: 'HTTP-declared ports forward non-HTTP plaintext bytes instead of answering a protocol error' },
  // peer verification and server identity (workload-runtime.mjs / connection.mjs / sidecar.mjs)
  { name: 'strict-accepts-no-client-cert', layer: 'tls', description: 'the mTLS terminator does not require a client certificate (a presented one is still verified)' },
  { name: 'accept-any-ca', layer: 'tls', description: 'client certificates are not checked against the mesh trust bundle' },
  { name: 'accept-expired', layer: 'tls', description: 'expired (or not yet valid) client certificates are accepted' },
  { name: 'ignore-trust-domain', layer: 'tls', description: 'any spiffe:// client identity is accepted, whatever its trust domain' },
  {
    name: 'wrong-server-identity',
    layer: 'tls',
    description: "the proxy presents another workload's mesh certificate (a mixed-up SDS secret): the next workload config beside its own",
  },
  // policy resolution (policy.mjs)
  { name: 'ignore-port-level', layer: 'policy', description: 'portLevelMtls is ignored: every port gets the workload mode' },
  {
    name: 'port-level-on-service-port',
    layer: 'policy',
    description: 'portLevelMtls keys are read as Service ports (httpbin layout: Service port = workload port - 80), so key K applies to workload port K+80 (istio#49098)',
  },
  { name: 'ignore-selector', layer: 'policy', description: 'a workload policy applies to every workload of its namespace, whatever the selector' },
  { name: 'selector-matches-any-label', layer: 'policy', description: 'a selector matches a workload that has any one of its labels (OR instead of subset)' },
  { name: 'cross-namespace-policies', layer: 'policy', description: 'policies of every namespace are candidates, not only the workload and root namespaces' },
  { name: 'root-selector-applied', layer: 'policy', description: 'root-namespace selector policies are applied to matching workloads of every namespace (istio/api#3031 reading)' },
  { name: 'newest-wins', layer: 'policy', description: 'the newest policy wins a conflict instead of the oldest' },
  { name: 'namespace-overrides-workload', layer: 'policy', description: 'a namespace policy overrides the workload policy (inheritance order swapped)' },
  { name: 'merge-port-maps', layer: 'policy', description: 'portLevelMtls of every matching workload policy is merged, not only the oldest one (istio#48036)' },
  { name: 'unset-workload-no-inherit', layer: 'policy', description: 'a workload policy with mode UNSET means PERMISSIVE instead of inheriting the namespace/mesh mode' },
  { name: 'unset-port-no-inherit', layer: 'policy', description: 'a port-level UNSET entry means PERMISSIVE instead of inheriting the workload mode' },
]);

export const KNOWN_DEFECTS = /** @type {readonly string[]} */ (Object.freeze(DEFECTS.map((d) => d.name)));

/** @typedef {ReadonlySet<string>} Defects */

/**
 * @param {string | undefined} value the env value
 * @returns {Defects}
 */
export function parseDefects(value) {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = names.filter((n) => !KNOWN_DEFECTS.includes(n));
  if (unknown.length > 0) {
    throw new HarnessError(`MESHCONFORM_DEFECTS: unknown defect ${unknown.map((n) => `'${n}'`).join(', ')} (known: ${KNOWN_DEFECTS.join(', ')})`);
  }
  return new Set(names);
}
