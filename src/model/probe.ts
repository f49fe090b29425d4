import type { MeshMode, PortProtocol, WorkloadKey } from './scenario.js';

/** The clients fired at every workload port (DESIGN §4). */
export const CLIENT_KINDS = [
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
export type ClientKind = (typeof CLIENT_KINDS)[number];

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
  readonly totalMs: number;
}

export interface ObservationBase {
  readonly tls?: TlsEvidence;
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
