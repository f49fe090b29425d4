export { createProbeContext, uriSan, type ProbeContext } from './probe-context.js';
export { runProbe, type ProbeOptions } from './run-probe.js';
export { runProbes, type RunProbesOptions } from './run-probes.js';
export { listenerOf, showsLife, timeoutsWithoutLife } from './port-liveness.js';
export type { CredentialName, PemCredential, ProbeMaterial } from './probe-material.js';
export { CLIENT_PROFILES, HBONE_PROFILES, ISTIO_HTTP_ALPN, ISTIO_TCP_ALPN, type ClientProfile, type HboneProfile } from './client-profiles.js';
export { HBONE_ALPN, HBONE_PORT, hboneUnservedPort } from './hbone.js';
export { ECHO_LINE_PREFIX, PROBE_LINE_PREFIX, parseEchoJson, parseEchoLine, type EchoParse } from './echo-reply.js';
export { receivedAlert } from './tls-alerts.js';
