import type { ClientKind, ExpectedOutcome, MeshMode, MtlsMode, PortProtocol } from '../model/index.js';
import type { OutcomeRule } from './expected-outcome.js';

/** What PeerAuthentication requires of one cell: a set of outcomes, and why. */
export interface RequiredRule {
  readonly required: readonly ExpectedOutcome[];
  readonly rule: string;
  /** See Expectation.denyOnlyAfterTermination. */
  readonly denyOnlyAfterTermination?: true;
}

const CODEC = "Envoy's HTTP codec answers a protocol error here, which is protocol handling, not PeerAuthentication (R5.9)";

/**
 * The outcomes PeerAuthentication requires of a cell whose Istio reference outcome is `reference` (docs/outcomes.md).
 * The set differs from the reference only on sidecar HTTP-declared ports, where Istio's answer comes from Envoy's HTTP
 * codec or from an Envoy filter-chain match choice, and an L4 data plane that relays the bytes while enforcing the
 * mTLS rules is conformant. Every security property stays required: STRICT admits nothing without a valid mesh
 * identity, a valid identity is admitted where mTLS is, DISABLE never terminates, PERMISSIVE and DISABLE admit
 * plaintext on TCP ports. Ambient (ztunnel) works at L4 already, so its reference outcome is the required one.
 */
export function requiredOutcomes(meshMode: MeshMode, mode: MtlsMode, protocol: PortProtocol, client: ClientKind, reference: OutcomeRule): RequiredRule {
  const only: RequiredRule = { required: [reference.outcome], rule: reference.rule };
  if (meshMode !== 'sidecar' || protocol !== 'http') return only;
  const set = (required: readonly ExpectedOutcome[], rule: string): RequiredRule => ({ required, rule });
  switch (client) {
    case 'plaintext-tcp':
      // STRICT still refuses it: plaintext without an identity.
      if (mode === 'STRICT') return only;
      return set(['deny', 'allow'], `R5.4/R5.5 ${mode}: plaintext is accepted; raw TCP bytes may be relayed to the application or refused as non-HTTP (${CODEC})`);
    case 'mtls-tcp':
    case 'mtls-http':
    case 'tls-no-client-cert':
    case 'mtls-foreign-ca':
    case 'mtls-expired':
    case 'mtls-other-trust-domain':
    case 'tls-no-istio-alpn':
      if (mode === 'DISABLE') {
        return set(['deny', 'passthrough'], `R5.5 DISABLE: TLS is never terminated; it may pass through to the application untouched or be refused as non-HTTP (${CODEC})`);
      }
      if (client === 'mtls-tcp') {
        return {
          ...set(
            ['allow', 'deny'],
            `R5.3/R5.4 ${mode}: valid mesh mTLS is accepted and must be terminated with the workload's identity; the non-HTTP bytes inside may then reach the application or be refused (${CODEC})`,
          ),
          denyOnlyAfterTermination: true,
        };
      }
      if (mode === 'PERMISSIVE' && (client === 'tls-no-client-cert' || client === 'tls-no-istio-alpn')) {
        return set(
          ['deny', 'passthrough'],
          "R5.4 PERMISSIVE: TLS without an Istio ALPN is not mesh mTLS, so it is never terminated; it may pass through untouched (as on TCP ports) or be refused (Istio's Envoy builds no filter chain for it on an HTTP-declared port)",
        );
      }
      return only;
    default:
      return only;
  }
}
