import type { CellResult, ClientKind, ExpectedOutcome, Observation, RunResult, ScenarioResult, Summary, Verdict } from '../../src/model/index.js';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';

export const HOSTILE = `<img src=x onerror=alert(1)>`;
export const HOSTILE_POLICY = `p<&"'>`;

const timings = { startedAt: 1_700_000_000_000, connectMs: 1.5, handshakeMs: 3.25, totalMs: 12.5 };

const echo = (workload: string, port: number, received: 'plaintext' | 'tls' = 'plaintext') => ({ workload, port, received, protocol: 'tcp' as const });

interface CellSpec {
  readonly scenario: string;
  readonly feature: string;
  readonly workload: string;
  readonly port: number;
  readonly client: ClientKind;
  readonly expected: ExpectedOutcome;
  readonly mode?: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
  readonly verdict: Verdict;
  readonly observed?: Observation;
  readonly observedOutcome?: ExpectedOutcome;
  readonly reason?: string;
  readonly policy?: string;
}

function cell(s: CellSpec): CellResult {
  return {
    key: `${s.scenario}|sidecar|${s.workload}|${s.port}|${s.client}`,
    scenario: s.scenario,
    feature: s.feature,
    meshMode: 'sidecar',
    workload: s.workload,
    port: s.port,
    protocol: 'tcp',
    client: s.client,
    expected: { mode: s.mode ?? 'STRICT', outcome: s.expected, rule: 'R5.3 STRICT: only mesh mTLS is accepted' },
    ...(s.observed ? { observed: s.observed } : {}),
    ...(s.observedOutcome ? { observedOutcome: s.observedOutcome } : {}),
    verdict: s.verdict,
    reason: s.reason ?? `${s.verdict} as judged`,
    decidedBy: [
      { level: 'mesh', namespace: 'istio-system', name: 'default' },
      { level: 'workload', namespace: 'foo', name: s.policy ?? 'finance-strict' },
    ],
  };
}

function summary(cells: readonly CellResult[]): Summary {
  const n = (v: Verdict) => cells.filter((c) => c.verdict === v).length;
  return { cells: cells.length, passed: n('pass'), failed: n('fail'), flaky: n('flaky'), errors: n('error'), skipped: n('skipped') };
}

const mtlsOk = (workload: string, port: number, attempts = 1): Observation => ({
  status: 'allowed',
  path: 'mtls',
  echo: echo(workload, port),
  tls: { version: 'TLSv1.3', alpn: 'istio-peer-exchange', serverIdentity: `spiffe://cluster.local/ns/foo/sa/finance`, serverIssuer: 'mesh', serverIdentityOk: true },
  timings,
  attempts,
});

const alert116 = (detail = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'): Observation => ({
  status: 'denied',
  how: 'tls-alert',
  alert: { code: 116, name: 'certificate required' },
  detail,
  timings,
  attempts: 1,
});

/** A STRICT port where every client behaves, except the cells that say otherwise. */
function strictRow(scenario: string, feature: string, workload: string, port: number): CellResult[] {
  return DIRECT_CLIENT_KINDS.map((client) => {
    const allow = client === 'mtls-tcp' || client === 'mtls-http' || client === 'tls-no-istio-alpn';
    return cell({
      scenario,
      feature,
      workload,
      port,
      client,
      expected: allow ? 'allow' : 'deny',
      verdict: 'pass',
      observed: allow ? mtlsOk(workload, port) : alert116(),
      observedOutcome: allow ? 'allow' : 'deny',
    });
  });
}

export function sampleRun(): RunResult {
  const a = 'strict-basic';
  const aCells: CellResult[] = [
    ...strictRow(a, 'core', 'foo/finance', 9090),
    ...strictRow(a, 'core', 'foo/finance', 8080).map((c): CellResult => {
      switch (c.client) {
        case 'plaintext-tcp':
          return {
            ...c,
            verdict: 'fail',
            observed: { status: 'allowed', path: 'plaintext', echo: echo('foo/finance', 8080), timings, attempts: 3 },
            observedOutcome: 'allow',
            reason: 'expected deny (STRICT, R5.3 STRICT: only mesh mTLS is accepted) but the application answered over plaintext; decided by foo/finance-strict (workload).',
          };
        case 'mtls-http':
          return { ...c, verdict: 'flaky', observed: mtlsOk('foo/finance', 8080, 2), reason: 'expected allow: matched only on attempt 2 of 2; attempt 1: denied by reset.' };
        case 'mtls-tcp':
          return {
            ...c,
            verdict: 'fail',
            observed: { ...mtlsOk('foo/web', 8080) },
            reason: 'expected allow (STRICT, …) but the reply came from foo/web:8080, not foo/finance:8080 (misroute).',
          };
        case 'mtls-expired': {
          const { observedOutcome: _o, ...rest } = c;
          return {
            ...rest,
            verdict: 'error',
            observed: { status: 'denied', how: 'refused', detail: 'ECONNREFUSED', timings, attempts: 1 },
            reason: 'the TCP connection was refused (ECONNREFUSED): the data plane is not accepting on a declared port.',
          };
        }
        case 'tls-no-istio-alpn': {
          const { observed: _x, observedOutcome: _o, ...rest } = c;
          return { ...rest, verdict: 'skipped', reason: 'capability missing' };
        }
        default:
          return c;
      }
    }),
  ];
  const scenarioA: ScenarioResult = {
    name: a,
    file: 'scenarios/core/strict-basic.yaml',
    feature: 'core',
    meshMode: 'sidecar',
    description: 'Strict mTLS for finance workloads.',
    summary: summary(aCells),
    lint: [{ scenario: a, file: 'scenarios/core/strict-basic.yaml', line: 12, column: 7, message: 'expect says plaintext: allow but the oracle says deny (STRICT)' }],
    warnings: [{ message: 'selector: {} without labels', source: { file: 'scenarios/core/strict-basic.yaml', line: 9, column: 5 } }],
    durationMs: 1234,
    cells: aCells,
    policies: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'finance-strict', namespace: 'foo' } }],
  };

  const b = HOSTILE;
  const bCells: CellResult[] = [
    cell({
      scenario: b,
      feature: `a&b"c'`,
      workload: 'foo/<w>',
      port: 80,
      client: 'plaintext-tcp',
      expected: 'allow',
      mode: 'PERMISSIVE',
      verdict: 'fail',
      observed: alert116(`bad\u0000detail\u001b[31m ]]> <x>`),
      observedOutcome: 'deny',
      reason: `expected allow but denied by tls-alert certificate required (116); decided by foo/${HOSTILE_POLICY} (workload).\u0007`,
      policy: HOSTILE_POLICY,
    }),
    cell({
      scenario: b,
      feature: `a&b"c'`,
      workload: 'foo/<w>',
      port: 80,
      client: 'mtls-tcp',
      expected: 'allow',
      mode: 'PERMISSIVE',
      verdict: 'error',
      observed: { status: 'error', message: 'agent crashed: <EOF> & "gone"', timings, attempts: 1 },
      reason: 'the probe could not run: agent crashed: <EOF> & "gone"',
      policy: HOSTILE_POLICY,
    }),
  ];
  const scenarioB: ScenarioResult = {
    name: b,
    file: `scenarios/evil/${HOSTILE}.yaml`,
    feature: `a&b"c'`,
    meshMode: 'sidecar',
    description: 'hostile \u0001names\u001b[31m',
    summary: summary(bCells),
    lint: [],
    warnings: [],
    error: 'data plane exited with code 1: <stderr> & more',
    durationMs: 10,
    cells: bCells,
    policies: [],
  };

  const scenarioC: ScenarioResult = {
    name: 'ambient-basic',
    file: 'scenarios/ambient/ambient-basic.yaml',
    feature: 'ambient',
    meshMode: 'ambient',
    description: '',
    summary: summary([]),
    lint: [],
    warnings: [],
    skipped: 'ambient mode is not supported by this version of meshconform',
    durationMs: 0,
    cells: [],
    policies: [],
  };

  const all = [...aCells, ...bCells];
  return {
    apiVersion: 'meshconform.dev/v1alpha1',
    kind: 'RunResult',
    runId: '20261127T174100Z-abc123',
    claim: 'spec',
    startedAt: '2026-11-27T17:41:00.000Z',
    finishedAt: '2026-11-27T17:41:02.500Z',
    durationMs: 2500,
    harness: { name: 'meshconform', version: '0.1.0' },
    environment: { backend: 'local', dataPlane: 'reference', node: 'v20.20.2', platform: 'linux-x64' },
    options: { retries: 2, concurrency: 16, timeoutMs: 3000, grep: 'strict', paths: ['scenarios/'] },
    summary: summary(all),
    lintErrors: 1,
    scenarios: [scenarioA, scenarioB, scenarioC],
  };
}
