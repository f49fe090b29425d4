import type { CellResult, ClientKind, Observation, RunResult, ScenarioResult, ScenarioTimeline, Summary, Verdict } from '../../src/model/index.js';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';

/** Markup that would run if any of it reached the page as HTML: each variant leaves a trace a test can look for. */
export const XSS = {
  alert: '<img src=x onerror=alert(1)>',
  marker: '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
  script: '</script><script>window.__xss="script"</script>',
  svg: '<svg onload=alert(2)>',
} as const;

const timings = { startedAt: 1_780_000_000_000, connectMs: 0.8, handshakeMs: 2.4, totalMs: 6.1 };

function summary(cells: readonly CellResult[]): Summary {
  const n = (v: Verdict) => cells.filter((c) => c.verdict === v).length;
  return { cells: cells.length, passed: n('pass'), failed: n('fail'), flaky: n('flaky'), errors: n('error'), skipped: n('skipped') };
}

const allowedPlain = (workload: string, port: number): Observation => ({
  status: 'allowed',
  path: 'plaintext',
  echo: { workload, port, received: 'plaintext', protocol: 'tcp' },
  timings,
  attempts: 1,
});
const deniedAlert: Observation = { status: 'denied', how: 'tls-alert', alert: { code: 116, name: 'certificate required' }, detail: 'alert 116', timings, attempts: 1 };
const mtls = (workload: string, port: number): Observation => ({
  status: 'allowed',
  path: 'mtls',
  echo: { workload, port, received: 'plaintext', protocol: 'tcp' },
  tls: { version: 'TLSv1.3', alpn: 'istio-peer-exchange', serverIdentity: 'spiffe://cluster.local/ns/x/sa/y', serverIssuer: 'mesh', serverIdentityOk: true },
  timings,
  attempts: 1,
});

interface Row {
  readonly scenario: string;
  readonly feature: string;
  readonly workload: string;
  readonly port: number;
  readonly policy: string;
  /** Clients that fail open (plaintext answered on STRICT). */
  readonly failing?: readonly ClientKind[];
}

/** A STRICT row: mtls clients allowed, the rest denied; `failing` clients were answered in plaintext instead. */
export function strictRow(r: Row): CellResult[] {
  return DIRECT_CLIENT_KINDS.map((client): CellResult => {
    const allow = client === 'mtls-tcp' || client === 'mtls-http' || client === 'tls-no-istio-alpn';
    const fails = r.failing?.includes(client) === true;
    const observed = fails ? allowedPlain(r.workload, r.port) : allow ? mtls(r.workload, r.port) : deniedAlert;
    return {
      key: `${r.scenario}|sidecar|${r.workload}|${r.port}|${client}`,
      scenario: r.scenario,
      feature: r.feature,
      meshMode: 'sidecar',
      workload: r.workload,
      port: r.port,
      protocol: 'tcp',
      client,
      expected: { mode: 'STRICT', outcome: allow ? 'allow' : 'deny', rule: 'R5.3 STRICT: only mesh mTLS is accepted' },
      observed,
      observedOutcome: fails || allow ? 'allow' : 'deny',
      verdict: fails ? 'fail' : 'pass',
      reason: fails ? `expected deny but the application answered over plaintext; decided by ${r.policy}` : 'as expected',
      decidedBy: [{ level: 'workload', namespace: r.workload.split('/')[0]!, name: r.policy }],
    };
  });
}

function scenario(name: string, feature: string, cells: CellResult[], extra: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    name,
    file: `scenarios/${feature}/${name}.yaml`,
    feature,
    meshMode: 'sidecar',
    description: '',
    summary: summary(cells),
    lint: [],
    warnings: [],
    durationMs: 420,
    cells,
    policies: [],
    ...extra,
  };
}

function runOf(scenarios: ScenarioResult[], runId: string): RunResult {
  return {
    apiVersion: 'meshconform.dev/v1alpha1',
    kind: 'RunResult',
    runId,
    claim: 'spec',
    startedAt: '2026-11-27T02:00:00.000Z',
    finishedAt: '2026-11-27T02:00:09.000Z',
    durationMs: 9000,
    harness: { name: 'meshconform', version: '0.1.0' },
    environment: { backend: 'local', dataPlane: 'exec:./vendor-proxy', node: 'v20.20.2', platform: 'linux-x64' },
    options: { retries: 1, concurrency: 32, timeoutMs: 3000, paths: ['scenarios/'] },
    summary: summary(scenarios.flatMap((s) => s.cells)),
    lintErrors: scenarios.reduce((n, s) => n + s.lint.length, 0),
    scenarios,
  };
}

/** A chaos scenario: the data plane of foo/finance is killed for 2 s and fails open; a policy change takes 1.2 s to enforce. */
export function chaosTimeline(): ScenarioTimeline {
  const probes: ScenarioTimeline['probes'][number][] = [];
  const cells: [string, ClientKind, 'allow' | 'deny'][] = [
    ['foo/finance', 'plaintext-tcp', 'deny'],
    ['foo/finance', 'mtls-tcp', 'allow'],
    ['foo/finance', 'tls-no-client-cert', 'deny'],
  ];
  for (let t = 0; t <= 8000; t += 250) {
    for (const [workload, client, expected] of cells) {
      const killed = t >= 2000 && t < 4000;
      const beforeEnforced = t >= 5000 && t < 6200;
      let observed: 'allow' | 'deny' | 'error' = expected;
      if (killed && expected === 'deny' && client === 'plaintext-tcp') observed = 'allow'; // fail-open
      if (killed && expected === 'allow') observed = 'deny';
      if (beforeEnforced && client === 'tls-no-client-cert') observed = 'allow';
      if (t === 7000 && client === 'mtls-tcp') observed = 'error';
      probes.push({ atMs: t, key: `chaos-kill|sidecar|${workload}|8080|${client}`, workload, port: 8080, client, expected, observed });
    }
  }
  return {
    startedAt: 1_780_000_000_000,
    durationMs: 8000,
    faults: [
      { name: 'kill data plane of foo/finance', startMs: 2000, endMs: 4000 },
      { name: 'drop 30% packets', startMs: 7500 },
    ],
    events: [{ atMs: 5000, label: 'apply finance-strict' }],
    probes,
    timeToEnforceMs: 1200,
  };
}

/** Hostile names where the loader would refuse them: scenario, feature, workload, policy, reason, file. */
export function hostileRun(): RunResult {
  const hostileWorkload = `${XSS.alert}/${XSS.svg}`;
  const hostileCells = strictRow({ scenario: XSS.marker, feature: XSS.alert, workload: hostileWorkload, port: 8080, policy: XSS.marker, failing: ['plaintext-tcp'] }).map(
    (c): CellResult => ({ ...c, reason: `${c.reason} ${XSS.script}` }),
  );
  const hostile = scenario(XSS.marker, XSS.alert, hostileCells, {
    file: `scenarios/${XSS.script}.yaml`,
    description: `${XSS.script} ${XSS.alert}`,
    lint: [{ scenario: XSS.marker, file: XSS.svg, line: 1, column: 1, message: XSS.marker }],
    warnings: [{ message: XSS.alert, source: { file: XSS.svg, line: 2, column: 3 } }],
    policies: [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: XSS.marker, namespace: XSS.alert, annotations: { x: XSS.script } },
        spec: { mtls: { mode: 'STRICT' } },
      },
    ],
  });
  const cleanCells = strictRow({ scenario: 'finance-strict', feature: 'core', workload: 'foo/finance', port: 9090, policy: 'finance-strict' });
  const chaosCells = strictRow({ scenario: 'chaos-kill', feature: 'chaos', workload: 'foo/finance', port: 8080, policy: 'finance-strict', failing: ['plaintext-tcp'] });
  return runOf(
    [
      scenario('finance-strict', 'core', cleanCells),
      hostile,
      scenario('chaos-kill', 'chaos', chaosCells, { description: 'Kill the data plane while probing; then tighten the policy.', timeline: chaosTimeline() }),
    ],
    '20261127T020000Z-c0ffee',
  );
}

/** Last night: everything passed and enforcement took 0.8 s. */
export function hostileBaseline(): RunResult {
  const now = hostileRun();
  const pass = (c: CellResult): CellResult => (c.verdict === 'fail' ? { ...c, verdict: 'pass', observedOutcome: c.expected.outcome, reason: 'as expected' } : c);
  const scenarios = now.scenarios.map((s) => {
    const cells = s.cells.map(pass);
    return { ...s, cells, summary: summary(cells), ...(s.timeline ? { timeline: { ...s.timeline, timeToEnforceMs: 800 } } : {}) };
  });
  return { ...now, runId: '20261126T020000Z-beef00', summary: summary(scenarios.flatMap((s) => s.cells)), scenarios };
}

/** A run with `scenarios` × `rowsPer` STRICT rows of nine clients, one failing cell in every tenth row. */
export function bigRun(scenarios: number, rowsPer: number): RunResult {
  const list: ScenarioResult[] = [];
  for (let s = 0; s < scenarios; s++) {
    const name = `scale-${String(s).padStart(3, '0')}`;
    const cells: CellResult[] = [];
    for (let r = 0; r < rowsPer; r++) {
      cells.push(
        ...strictRow({
          scenario: name,
          feature: `f${s % 5}`,
          workload: `ns${s}/w${r}`,
          port: 8000 + r,
          policy: 'p',
          ...(r % 10 === 0 ? { failing: ['plaintext-tcp'] as ClientKind[] } : {}),
        }),
      );
    }
    list.push(scenario(name, `f${s % 5}`, cells));
  }
  return runOf(list, '20261127T030000Z-5ca1e0');
}
