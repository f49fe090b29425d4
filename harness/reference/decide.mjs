// @ts-check
/**
 * What the sidecar does with a new connection, from the port's effective mode, its declared protocol and what the
 * first bytes were (spec R5.3–R5.5; docs/outcomes.md, shared with the oracle). Pure, so it is unit-tested alone
 * and a planted defect changes one line.
 */

/**
 * Every Istio mTLS ALPN (allIstioMtlsALPNs): what a PERMISSIVE port's mTLS filter chain matches, on TCP and on
 * HTTP-declared ports alike (filterchain_options.go). On an HTTP port, TCP mTLS (`istio`, `istio-peer-exchange`) is
 * therefore terminated, and its non-HTTP bytes then meet the HTTP codec: a protocol error.
 */
export const ALL_ISTIO_MTLS_ALPNS = Object.freeze(['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']);
/** Server ALPN when terminating (R5.1). The server never advertises `istio`. */
export const SERVER_ALPN = Object.freeze({ tcp: ['istio-peer-exchange', 'h2', 'http/1.1'], http: ['h2', 'http/1.1'] });

/** @typedef {{ kind: 'plaintext' } | { kind: 'tls', alpn: readonly string[] | null }} Sniff */
/**
 * @typedef {'close' | 'terminate' | 'plaintext' | 'passthrough' | 'protocol-error'} Action
 * close: destroy, no bytes; terminate: mTLS termination; plaintext: the plaintext chain (HTTP ports check the request
 * line); passthrough: raw bytes to the app untouched; protocol-error: HTTP 400 and close.
 */

/**
 * @param {import('./policy.mjs').MtlsMode} mode
 * @param {import('./config.mjs').PortProtocol} protocol
 * @param {Sniff} sniff
 * @param {ReadonlySet<string>} [defects] planted defects (defects.mjs); each changes one branch
 * @returns {Action}
 */
export function decide(mode, protocol, sniff, defects = new Set()) {
  switch (mode) {
    case 'STRICT':
      if (sniff.kind !== 'tls') return defects.has('strict-accepts-plaintext') || (protocol === 'http' && defects.has('strict-http-accepts-plaintext')) ? 'plaintext' : 'close';
      // STRICT chains match transport_protocol tls only; ALPN is not checked.
      if (defects.has('strict-requires-istio-alpn') && !hasIstioAlpn(sniff.alpn)) return 'close';
      return 'terminate';
    case 'PERMISSIVE':
      if (sniff.kind === 'plaintext') return defects.has('permissive-rejects-plaintext') ? 'close' : 'plaintext';
      if (hasIstioAlpn(sniff.alpn) && !defects.has('permissive-passes-istio-alpn-through')) return 'terminate';
      return protocol === 'tcp' ? 'passthrough' : 'close';
    case 'DISABLE':
      if (sniff.kind === 'plaintext') return 'plaintext';
      if (defects.has('disable-terminates-tls')) return 'terminate';
      return protocol === 'tcp' ? 'passthrough' : 'protocol-error';
    default:
      return assertNever(mode);
  }
}

/**
 * Whether the client's ALPN offer selects a PERMISSIVE port's mTLS chain (the same set whatever the port protocol).
 * @param {readonly string[] | null} alpn the client's offer
 */
export function hasIstioAlpn(alpn) {
  return (alpn ?? []).some((p) => ALL_ISTIO_MTLS_ALPNS.includes(p));
}

/**
 * @param {never} x
 * @returns {never}
 */
function assertNever(x) {
  throw new Error(`unexpected mode ${String(x)}`);
}
