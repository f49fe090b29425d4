import type { MeshMode, PortProtocol } from './scenario.js';
import type { PeerAuthenticationManifest } from './policy.js';

export const WORKLOAD_CONFIG_API_VERSION = 'meshconform.dev/v1alpha1';

/**
 * The data-plane contract: the JSON file named by `MESHCONFORM_WORKLOAD_CONFIG` given to a data-plane process,
 * one process per workload. The data plane computes effective modes itself from the raw `policies`.
 * Policy change: the file is replaced atomically and the process receives SIGHUP. Stop: SIGTERM (SIGKILL after 5 s).
 * Ready: every declared workload port accepts TCP.
 * SIGHUP also reloads the TLS material: `tls.certFile`, `keyFile` and `caFile` are re-read (each replaced atomically
 * before the signal) and new connections use them at once; unusable files keep the previous material (fail-static).
 * `caFile` may hold several roots (a staged CA rotation): a client chaining to any of them is trusted.
 * Optional env `MESHCONFORM_CLOCK_OFFSET_MS` (integer, may be negative): added to the data plane's clock for
 * client-certificate validity checks (chaos clock skew); the reference data plane implements it, others may not.
 */
export interface WorkloadConfig {
  apiVersion: typeof WORKLOAD_CONFIG_API_VERSION;
  workload: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    serviceAccount: string;
    /** IP address the data plane listens on for every workload port. */
    address: string;
    ports: { port: number; protocol: PortProtocol }[];
  };
  /** Where the application (the harness echo app) listens: workload port (as a string key) → app port. */
  app: { address: string; ports: Record<string, number> };
  mesh: { mode: MeshMode; rootNamespace: string; trustDomain: string };
  /** PEM files: the workload certificate (SPIFFE SAN), its key (0600), and the mesh trust bundle. */
  tls: { certFile: string; keyFile: string; caFile: string };
  /** Every PeerAuthentication of the scenario, as JSON manifests. */
  policies: PeerAuthenticationManifest[];
}
