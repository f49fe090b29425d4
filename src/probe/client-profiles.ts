import type { DirectClientKind, HboneClientKind, PortProtocol } from '../model/index.js';
import type { CredentialName } from './probe-material.js';

/** How a client kind talks: transport, certificate, ALPN, payload. The table is docs/outcomes.md "Clients". */
export interface ClientProfile {
  /** `null`: plaintext TCP. */
  readonly tls: {
    /** `null`: no client certificate. */
    readonly credential: CredentialName | null;
    /** ALPN offered on a port of this protocol; `undefined` offers none. */
    readonly alpn: (protocol: PortProtocol) => readonly string[] | undefined;
  } | null;
  /** `line`: `MESHCONFORM-PROBE <key>\n` and one reply line; `http`: an HTTP/1.1 GET. */
  readonly payload: (protocol: PortProtocol) => 'line' | 'http';
}

/** Istio's mtlsTCPWithMxcALPNs (a sidecar client's order). */
export const ISTIO_TCP_ALPN = ['istio-peer-exchange', 'istio'] as const;
/** What a sidecar client offers for HTTP/1.1 mTLS. */
export const ISTIO_HTTP_ALPN = ['istio-http/1.1'] as const;

const istioAlpnFor = (protocol: PortProtocol) => (protocol === 'http' ? ISTIO_HTTP_ALPN : ISTIO_TCP_ALPN);
const noAlpn = () => undefined;
const portPayload = (protocol: PortProtocol) => (protocol === 'http' ? 'http' : 'line');

export const CLIENT_PROFILES: Readonly<Record<DirectClientKind, ClientProfile>> = {
  'plaintext-tcp': { tls: null, payload: () => 'line' },
  'plaintext-http': { tls: null, payload: () => 'http' },
  'mtls-tcp': { tls: { credential: 'mesh', alpn: () => ISTIO_TCP_ALPN }, payload: () => 'line' },
  'mtls-http': { tls: { credential: 'mesh', alpn: () => ISTIO_HTTP_ALPN }, payload: () => 'http' },
  'tls-no-client-cert': { tls: { credential: null, alpn: noAlpn }, payload: portPayload },
  'mtls-foreign-ca': { tls: { credential: 'foreignCa', alpn: istioAlpnFor }, payload: portPayload },
  'mtls-expired': { tls: { credential: 'expired', alpn: istioAlpnFor }, payload: portPayload },
  'mtls-other-trust-domain': { tls: { credential: 'otherTrustDomain', alpn: istioAlpnFor }, payload: portPayload },
  'tls-no-istio-alpn': { tls: { credential: 'mesh', alpn: noAlpn }, payload: portPayload },
};

/** How an HBONE client kind talks: which client certificate it presents to the node proxy, and what it CONNECTs to. */
export interface HboneProfile {
  /** `null`: no client certificate. */
  readonly credential: CredentialName | null;
  /** `served`: the workload port of the cell; `unserved`: a port the workload does not declare (hbone.ts). */
  readonly authority: 'served' | 'unserved';
}

/** Every HBONE client sends the port's payload through the tunnel, as the direct clients do. */
export const HBONE_PROFILES: Readonly<Record<HboneClientKind, HboneProfile>> = {
  hbone: { credential: 'mesh', authority: 'served' },
  'hbone-no-client-cert': { credential: null, authority: 'served' },
  'hbone-foreign-ca': { credential: 'foreignCa', authority: 'served' },
  'hbone-expired': { credential: 'expired', authority: 'served' },
  'hbone-other-trust-domain': { credential: 'otherTrustDomain', authority: 'served' },
  'hbone-unserved-port': { credential: 'mesh', authority: 'unserved' },
};
