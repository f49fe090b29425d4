import type { ClientKind, MtlsMode } from '../model/index.js';
import { assertNever } from './assert-never.js';
import type { OutcomeRule } from './expected-outcome.js';

const r = (outcome: OutcomeRule['outcome'], rule: string): OutcomeRule => ({ outcome, rule });

/** Ambient enforcement sees an identity or none; DISABLE never reaches it (R6.5), but reads as PERMISSIVE if it does. */
type Enforcement = 'STRICT' | 'PERMISSIVE';

function enforcement(mode: MtlsMode): Enforcement {
  return mode === 'STRICT' ? 'STRICT' : 'PERMISSIVE';
}

/** `R6.4 PERMISSIVE` or, for a DISABLE that reached this table, the R6.5 mapping in front of it. */
function permissiveTag(mode: MtlsMode): string {
  return mode === 'DISABLE' ? 'R6.5 DISABLE behaves as PERMISSIVE in ambient; R6.4 PERMISSIVE' : 'R6.4 PERMISSIVE';
}

/**
 * What a ztunnel-like node proxy does with one client kind on a workload port of the given effective mode (spec §6).
 * The node proxy works at L4, so the port protocol does not matter: the echo app answers what it receives.
 * Direct clients are uncaptured: they reach the workload port without HBONE and so without a mesh identity (R6.2).
 */
export function ambientOutcome(mode: MtlsMode, client: ClientKind): OutcomeRule {
  const enf = enforcement(mode);
  switch (client) {
    case 'plaintext-tcp':
    case 'plaintext-http':
      return enf === 'STRICT'
        ? r('deny', 'R6.3 STRICT: plaintext from an uncaptured client carries no mesh identity, so the node proxy denies it (closed or reset)')
        : r('allow', `${permissiveTag(mode)}: nothing is enforced; the node proxy relays the bytes to the application as opaque TCP`);
    case 'mtls-tcp':
    case 'mtls-http':
    case 'tls-no-istio-alpn':
      return enf === 'STRICT'
        ? r('deny', 'R6.3 STRICT: mTLS sent straight to the workload port is not HBONE, so it carries no peer identity (R6.2) and is denied, mesh certificate or not')
        : r('passthrough', `${permissiveTag(mode)}: the node proxy never terminates non-HBONE TLS; the client's TLS reaches the application untouched`);
    case 'tls-no-client-cert':
    case 'mtls-foreign-ca':
    case 'mtls-expired':
    case 'mtls-other-trust-domain':
      return enf === 'STRICT'
        ? r('deny', 'R6.3 STRICT: TLS from an uncaptured client carries no mesh identity (R6.2), so the node proxy denies it (closed or reset)')
        : r('passthrough', `${permissiveTag(mode)}: the node proxy never terminates non-HBONE TLS, so no certificate is checked; the TLS reaches the application untouched`);
    case 'hbone':
      return enf === 'STRICT'
        ? r('allow', "R6.3 STRICT: HBONE carries the client's mesh identity, so it is allowed; the node proxy terminates the mTLS and forwards to the application")
        : r('allow', `${permissiveTag(mode)}: HBONE with a valid mesh identity is allowed, and is still mTLS (R6.5)`);
    case 'hbone-no-client-cert':
      return r('deny', 'R6.7: the HBONE listener requires a client certificate, in every mode; the handshake fails');
    case 'hbone-foreign-ca':
      return r('deny', 'R6.7: the HBONE client certificate must chain to the mesh roots, in every mode; one from a foreign CA fails the handshake');
    case 'hbone-expired':
      return r('deny', 'R6.7: the HBONE client certificate must verify against the mesh roots, in every mode; an expired one fails the handshake');
    case 'hbone-other-trust-domain':
      return r('deny', "R6.7: the client's SPIFFE trust domain must equal the node proxy's own (TrustDomainVerifier), in every mode; another trust domain is rejected");
    case 'hbone-unserved-port':
      return r(
        'deny',
        'R6.6: the CONNECT authority names a port the workload does not serve, so the node proxy answers the CONNECT with an error status and reaches no application',
      );
    default:
      return assertNever(client, 'client kind');
  }
}
