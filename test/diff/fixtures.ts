import type { AllowedObservation, ClientKind, DeniedObservation, ErrorObservation, Expectation, ExpectedOutcome, MtlsMode } from '../../src/model/index.js';

const timings = { startedAt: 1_700_000_000_000, totalMs: 12 };

/** An expectation; `required` defaults to Istio's outcome alone, `requiredRule` to its rule. */
export function expectation(over: Partial<Expectation> & { client?: ClientKind; outcome?: ExpectedOutcome; mode?: MtlsMode } = {}): Expectation {
  const client = over.client ?? 'mtls-tcp';
  const outcome = over.outcome ?? 'allow';
  const rule = over.rule ?? 'R5.3 STRICT: valid mesh mTLS is accepted';
  const workload = over.workload ?? 'foo/finance';
  const port = over.port ?? 8080;
  return {
    key: `s1|sidecar|${workload}|${port}|${client}`,
    scenario: 's1',
    meshMode: 'sidecar',
    workload,
    port,
    protocol: 'tcp',
    client,
    mode: 'STRICT',
    outcome: 'allow',
    rule: 'R5.3 STRICT: valid mesh mTLS is accepted',
    decidedBy: [{ level: 'namespace', namespace: 'foo', name: 'default' }],
    ...over,
    required: over.required ?? [outcome],
    requiredRule: over.requiredRule ?? rule,
  };
}

export function mtlsAllowed(over: Partial<AllowedObservation> = {}): AllowedObservation {
  return {
    status: 'allowed',
    path: 'mtls',
    echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' },
    tls: { version: 'TLSv1.3', alpn: 'istio-peer-exchange', serverIdentity: 'spiffe://cluster.local/ns/foo/sa/finance', serverIssuer: 'mesh', serverIdentityOk: true },
    timings,
    attempts: 1,
    ...over,
  };
}

export function plaintextAllowed(over: Partial<AllowedObservation> = {}): AllowedObservation {
  return {
    status: 'allowed',
    path: 'plaintext',
    echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' },
    timings,
    attempts: 1,
    ...over,
  };
}

export function passthroughAllowed(over: Partial<AllowedObservation> = {}): AllowedObservation {
  return {
    status: 'allowed',
    path: 'passthrough',
    echo: { workload: 'foo/finance', port: 8080, received: 'tls', protocol: 'tcp' },
    tls: { version: 'TLSv1.3', alpn: null, serverIdentity: null, serverIssuer: 'app', serverIdentityOk: false },
    timings,
    attempts: 1,
    ...over,
  };
}

export function denied(over: Partial<DeniedObservation> = {}): DeniedObservation {
  return {
    status: 'denied',
    how: 'tls-alert',
    alert: { code: 116, name: 'certificate required' },
    detail: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    timings,
    attempts: 1,
    ...over,
  };
}

export function probeError(message = 'agent crashed'): ErrorObservation {
  return { status: 'error', message, timings, attempts: 1 };
}
