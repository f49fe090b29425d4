import type { MeshMode, PortProtocol, WorkloadKey } from './scenario.js';

/** Clients that talk to the workload port directly (docs/clients.md): every one is fired in sidecar mode, and in ambient mode as uncaptured clients. */
export const DIRECT_CLIENT_KINDS = [
  'plaintext-tcp',
  'plaintext-http',
  'mtls-tcp',
  'mtls-http',
  'tls-no-client-cert',
  'mtls-foreign-ca',
  'mtls-expired',
  'mtls-other-trust-domain',
  'tls-no-istio-alpn',
] as const;
export type DirectClientKind = (typeof DIRECT_CLIENT_KINDS)[number];

/**
 * Captured (mesh) clients of ambient mode: HTTP/2 CONNECT over mTLS (ALPN h2) to port 15008 of the workload's node
 * proxy, authority `address:port` of the target (spec R6.2, R6.7). `hbone-unserved-port` asks for a port the workload
 * does not serve.
 */
export const HBONE_CLIENT_KINDS = ['hbone', 'hbone-no-client-cert', 'hbone-foreign-ca', 'hbone-expired', 'hbone-other-trust-domain', 'hbone-unserved-port'] as const;
export type HboneClientKind = (typeof HBONE_CLIENT_KINDS)[number];

/** Every client kind, in report column order. */
export const CLIENT_KINDS = [...DIRECT_CLIENT_KINDS, ...HBONE_CLIENT_KINDS] as const;
export type ClientKind = DirectClientKind | HboneClientKind;

export function isHboneClient(k: ClientKind): k is HboneClientKind {
  return (HBONE_CLIENT_KINDS as readonly string[]).includes(k);
}

/** The clients fired at every workload port in one mesh mode. */
export function clientKindsFor(meshMode: MeshMode): readonly ClientKind[] {
  return meshMode === 'ambient' ? CLIENT_KINDS : DIRECT_CLIENT_KINDS;
}

/** Stable key of one cell: `scenario|mode|namespace/workload|port|client`. */
export type CellKey = string;

/** One probe to fire: a client kind at one workload port. Oracle and probes share it through `key`. */
export interface ProbeJob {
  readonly key: CellKey;
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly client: ClientKind;
  /** Where to connect. */
  readonly address: string;
  readonly targetPort: number;
  /** SPIFFE ID the server must present when a mesh data plane terminates TLS. */
  readonly expectedServerIdentity: string;
  /**
   * The id the probe's payload carries (probe line, `x-meshconform-probe` header); `key` when absent. The run gives
   * every attempt its own, so an application-side receipt names the attempt that reached the application.
   */
  readonly probeId?: string;
}

/**
 * What the echo application recorded about a probe payload it received (an application-side receipt): the probe id,
 * the listener, and whether the bytes it read were plaintext or TLS it terminated itself.
 */
export interface AppReceipt {
  readonly id: string;
  readonly workload: WorkloadKey;
  readonly port: number;
  readonly received: 'plaintext' | 'tls';
}

/** How a connection was refused by the data plane (the denial taxonomy). */
export type DenialKind =
  | 'refused' // TCP connect refused
  | 'reset' // RST from the peer
  | 'tls-alert' // a TLS alert ended the handshake or the session
  | 'closed' // closed without any application reply
  | 'timeout' // nothing happened before the probe deadline
  | 'protocol-error' // the data plane answered with a protocol error (HTTP 400/426, non-HTTP bytes on an HTTP port)
  | 'http-status'; // an HTTP status that is not the echo app's (for example 403, 503, HBONE 401)

/** What the echo application said it received: proves the bytes reached the application. */
export interface EchoReply {
  readonly workload: WorkloadKey;
  /** The workload port the application serves behind the data plane. */
  readonly port: number;
  /** `plaintext` if the app received cleartext; `tls` if it received (and itself answered) a TLS ClientHello. */
  readonly received: 'plaintext' | 'tls';
  /** `tcp` raw line echo, or `http` request. */
  readonly protocol: 'tcp' | 'http';
  /** `x-forwarded-client-cert` header the data plane added, if any (HTTP only). */
  readonly xfcc?: string;
}

/** What the client saw of TLS. */
export interface TlsEvidence {
  readonly version: string | null;
  readonly alpn: string | null;
  /** URI SAN (SPIFFE ID) of the server certificate, if any. */
  readonly serverIdentity: string | null;
  /** Who issued the server certificate: the mesh CA, the echo app's own CA, or something else. */
  readonly serverIssuer: 'mesh' | 'app' | 'unknown';
  /** The server presented the target workload's SPIFFE ID, issued by the mesh CA. */
  readonly serverIdentityOk: boolean;
}

export interface ProbeTimings {
  readonly startedAt: number;
  readonly connectMs?: number;
  readonly handshakeMs?: number;
  /** HBONE: from the CONNECT request to the proxy's 2xx answer (the tunnel set-up). */
  readonly tunnelMs?: number;
  readonly totalMs: number;
}

/**
 * Istio's TCP metadata exchange (ALPN `istio-peer-exchange`): the server's preamble was read before the reply.
 * `workload` / `namespace` come from the proxy's own metadata in it: evidence of which proxy answered.
 */
export interface MxEvidence {
  readonly seen: true;
  readonly workload?: string;
  readonly namespace?: string;
}

/** Bounded wire-level evidence of one probe. */
export interface WireEvidence {
  /** The first bytes the server sent (at most 256): hex, the same bytes printable (others as `.`), and how many came in all. */
  readonly firstBytes?: { readonly hex: string; readonly text: string; readonly total: number };
  /** The presented certificate chain, leaf first (at most 4): subject, issuer and subject alternative names. */
  readonly chain?: readonly { readonly subject: string; readonly issuer: string; readonly sans: readonly string[] }[];
}

export interface ObservationBase {
  /**
   * The application recorded this attempt's payload (its receipts, collected after the round): it was reached,
   * whatever the client saw.
   */
  readonly receipt?: Omit<AppReceipt, 'id'>;
  readonly tls?: TlsEvidence;
  /** Set when the server sent a metadata-exchange preamble. */
  readonly mx?: MxEvidence;
  /** What came over the wire, bounded: the first bytes the server sent and the certificate chain it presented. */
  readonly wire?: WireEvidence;
  readonly timings: ProbeTimings;
  /** 1 for the first try; more when the run retried a mismatching cell. */
  readonly attempts: number;
}

/** The application answered: `plaintext` path, `mtls` (the data plane terminated TLS), or `passthrough` (the app answered the TLS itself: not terminated by the mesh). */
export interface AllowedObservation extends ObservationBase {
  readonly status: 'allowed';
  readonly path: 'plaintext' | 'mtls' | 'passthrough';
  readonly echo: EchoReply;
  readonly httpStatus?: number;
}

export interface DeniedObservation extends ObservationBase {
  readonly status: 'denied';
  readonly how: DenialKind;
  /** TLS alert number and name when `how` is `tls-alert`. */
  readonly alert?: { readonly code?: number; readonly name: string };
  readonly httpStatus?: number;
  /** Error code or short text the client saw (for example ECONNRESET). */
  readonly detail: string;
}

/** The harness could not run the probe. Never a denial, never a pass. */
export interface ErrorObservation extends ObservationBase {
  readonly status: 'error';
  readonly message: string;
}

export type Observation = AllowedObservation | DeniedObservation | ErrorObservation;
