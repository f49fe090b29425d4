import type { DirectClientKind, ExpectedOutcome, MtlsMode, PortProtocol } from '../model/index.js';
import { assertNever } from './assert-never.js';

/** An expected outcome and the spec rule behind it, in one sentence. */
export interface OutcomeRule {
  readonly outcome: ExpectedOutcome;
  readonly rule: string;
}

const r = (outcome: ExpectedOutcome, rule: string): OutcomeRule => ({ outcome, rule });

const BAD_CERT = 'a foreign-CA, expired or other-trust-domain client certificate';

/** Spec R5.3–R5.7 for a TCP-declared port: Istio's reference outcomes (docs/outcomes.md). */
function tcpPort(mode: MtlsMode, client: DirectClientKind): OutcomeRule {
  switch (client) {
    case 'plaintext-tcp':
    case 'plaintext-http':
      switch (mode) {
        case 'DISABLE':
          return r('allow', 'R5.5 DISABLE: plaintext is accepted on a plaintext chain');
        case 'PERMISSIVE':
          return r('allow', 'R5.4 PERMISSIVE: plaintext is accepted on a plaintext chain');
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: plaintext matches no filter chain and is closed');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'mtls-tcp':
    case 'mtls-http':
      switch (mode) {
        case 'DISABLE':
          return r('passthrough', 'R5.5 DISABLE: Istio mTLS is not terminated; the TLS bytes pass through to the application');
        case 'PERMISSIVE':
          return r('allow', 'R5.4 PERMISSIVE: TLS with an Istio ALPN is terminated as mTLS and the mesh certificate is accepted');
        case 'STRICT':
          return r('allow', 'R5.3 STRICT: mTLS with a valid mesh certificate is terminated and accepted');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'tls-no-client-cert':
      switch (mode) {
        case 'DISABLE':
          return r('passthrough', 'R5.5 DISABLE: TLS is never terminated; the bytes pass through to the application');
        case 'PERMISSIVE':
          return r('passthrough', 'R5.4 PERMISSIVE: TLS without an Istio ALPN is forwarded untouched to the application on a TCP port');
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: TLS without a client certificate fails the handshake');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'mtls-foreign-ca':
    case 'mtls-expired':
    case 'mtls-other-trust-domain':
      switch (mode) {
        case 'DISABLE':
          return r('passthrough', `R5.5 DISABLE: TLS is never terminated, so ${BAD_CERT} passes through to the application`);
        case 'PERMISSIVE':
          return r('deny', `R5.4 PERMISSIVE: the Istio ALPN makes the sidecar terminate mTLS, and the handshake rejects ${BAD_CERT} (R5.1)`);
        case 'STRICT':
          return r('deny', `R5.3 STRICT: the handshake rejects ${BAD_CERT}`);
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'tls-no-istio-alpn':
      switch (mode) {
        case 'DISABLE':
          return r('passthrough', 'R5.5 DISABLE: TLS is never terminated; the bytes pass through to the application');
        case 'PERMISSIVE':
          return r('passthrough', 'R5.4 PERMISSIVE: mTLS without an Istio ALPN is not recognised and is forwarded untouched on a TCP port');
        case 'STRICT':
          return r('allow', 'R5.3 STRICT: ALPN is not checked, so a valid mesh certificate without Istio ALPN is accepted');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    default:
      return assertNever(client, 'client kind');
  }
}

/** Spec R5.3–R5.7 for a declared HTTP port, where Envoy's HTTP codec makes non-HTTP bytes a protocol error (docs/outcomes.md). */
function httpPort(mode: MtlsMode, client: DirectClientKind): OutcomeRule {
  switch (client) {
    case 'plaintext-tcp':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: raw TCP bytes to a declared HTTP port are a protocol error (R5.4 "tcp to http")');
        case 'PERMISSIVE':
          return r('deny', 'R5.4 PERMISSIVE: raw TCP bytes to a declared HTTP port are a protocol error ("tcp to http")');
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: plaintext matches no filter chain and is closed');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'plaintext-http':
      switch (mode) {
        case 'DISABLE':
          return r('allow', 'R5.5 DISABLE: plaintext HTTP is accepted on a plaintext chain');
        case 'PERMISSIVE':
          return r('allow', 'R5.4 PERMISSIVE: plaintext HTTP is accepted on a plaintext chain');
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: plaintext matches no filter chain and is closed');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'mtls-tcp':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error');
        case 'PERMISSIVE':
          return r(
            'deny',
            'R5.4 PERMISSIVE: the mTLS chain of a declared HTTP port matches every Istio ALPN (allIstioMtlsALPNs), so the mTLS is terminated; then raw TCP bytes on a declared HTTP port are a protocol error',
          );
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: mTLS is terminated, then raw TCP bytes on a declared HTTP port are a protocol error');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'mtls-http':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error');
        case 'PERMISSIVE':
          return r('allow', 'R5.4 PERMISSIVE: mTLS with ALPN istio-http/1.1 is terminated and accepted on a declared HTTP port');
        case 'STRICT':
          return r('allow', 'R5.3 STRICT: mTLS with a valid mesh certificate is terminated and accepted');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'tls-no-client-cert':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error');
        case 'PERMISSIVE':
          return r('deny', 'R5.4 PERMISSIVE: TLS without an Istio ALPN matches no filter chain on a declared HTTP port');
        case 'STRICT':
          return r('deny', 'R5.3 STRICT: TLS without a client certificate fails the handshake');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'mtls-foreign-ca':
    case 'mtls-expired':
    case 'mtls-other-trust-domain':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error');
        case 'PERMISSIVE':
          return r('deny', `R5.4 PERMISSIVE: the Istio HTTP ALPN makes the sidecar terminate mTLS, and the handshake rejects ${BAD_CERT} (R5.1)`);
        case 'STRICT':
          return r('deny', `R5.3 STRICT: the handshake rejects ${BAD_CERT}`);
        default:
          return assertNever(mode, 'mTLS mode');
      }
    case 'tls-no-istio-alpn':
      switch (mode) {
        case 'DISABLE':
          return r('deny', 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error');
        case 'PERMISSIVE':
          return r('deny', 'R5.4 PERMISSIVE: TLS without an Istio ALPN matches no filter chain on a declared HTTP port');
        case 'STRICT':
          return r('allow', 'R5.3 STRICT: ALPN is not checked, so a valid mesh certificate without Istio ALPN is accepted');
        default:
          return assertNever(mode, 'mTLS mode');
      }
    default:
      return assertNever(client, 'client kind');
  }
}

/** What a sidecar data plane does with one client kind on a port of the given effective mode and protocol (spec §5). */
export function expectedOutcome(mode: MtlsMode, protocol: PortProtocol, client: DirectClientKind): OutcomeRule {
  switch (protocol) {
    case 'tcp':
      return tcpPort(mode, client);
    case 'http':
      return httpPort(mode, client);
    default:
      return assertNever(protocol, 'port protocol');
  }
}
