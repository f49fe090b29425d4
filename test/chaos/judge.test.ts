import { expect } from 'chai';
import { asMeshClient, cellId, judgeProbes, judgeRun, measureEnforcement, measureRecovery, World } from '../../src/chaos/index.js';
import type { ChaosCell, PolicySetView, ProbeRecord } from '../../src/chaos/index.js';
import type { ChaosInvariants, ClientKind, ExpectedOutcome, Expectation, MtlsMode, Observation, Scenario } from '../../src/model/index.js';

// A hand-built world: one STRICT (initial) or PERMISSIVE workload port, three probed clients.
const W = 'foo/a';
const cell = (client: ClientKind): ChaosCell => ({ key: `s|sidecar|${W}|8080|${client}`, workload: W, port: 8080, protocol: 'tcp', client });
const PT = cell('plaintext-tcp');
const MTLS = cell('mtls-tcp');
const EXPIRED = cell('mtls-expired');
const CELLS = [PT, MTLS, EXPIRED];

const OUTCOMES: Record<MtlsMode, Partial<Record<ClientKind, ExpectedOutcome>>> = {
  STRICT: { 'plaintext-tcp': 'deny', 'mtls-tcp': 'allow', 'mtls-expired': 'deny' },
  PERMISSIVE: { 'plaintext-tcp': 'allow', 'mtls-tcp': 'allow', 'mtls-expired': 'deny' },
  DISABLE: {},
};

function set(mode: MtlsMode): PolicySetView {
  const expectations = new Map<string, Expectation>();
  for (const c of CELLS) {
    expectations.set(cellId(W, 8080, c.client), {
      key: c.key,
      scenario: 's',
      meshMode: 'sidecar',
      workload: W,
      port: 8080,
      protocol: 'tcp',
      client: c.client,
      mode,
      outcome: OUTCOMES[mode][c.client]!,
      rule: `R-${mode}-${c.client}`,
      required: [OUTCOMES[mode][c.client]!],
      requiredRule: `R-${mode}-${c.client}`,
      decidedBy: [],
    });
  }
  return { manifests: [], expectations };
}
const SETS = new Map([
  ['initial', set('STRICT')],
  ['permissive', set('PERMISSIVE')],
]);
const T0 = Date.parse('2026-11-27T12:00:00Z');
const VALIDITY = { mesh: { notBefore: T0 - 3_600_000, notAfter: T0 + 86_400_000 }, expired: { notBefore: T0 - 2 * 86_400_000, notAfter: T0 - 86_400_000 } };
const INVARIANTS: ChaosInvariants = { timeToEnforceMs: 500, recoveryMs: 1000, availability: 1 };
const SCENARIO = { name: 's', feature: 'chaos' } as Scenario;

const allowed = (path: 'plaintext' | 'mtls' = 'plaintext', tls?: object): Observation => ({
  status: 'allowed',
  path,
  echo: { workload: W, port: 8080, received: 'plaintext', protocol: 'tcp' },
  timings: { startedAt: 0, totalMs: 1 },
  attempts: 1,
  ...(tls ? { tls: tls as never } : {}),
});
const denied = (how: 'closed' | 'refused' | 'tls-alert' = 'closed'): Observation => ({ status: 'denied', how, detail: how, timings: { startedAt: 0, totalMs: 1 }, attempts: 1 });
const error: Observation = { status: 'error', message: 'starved', timings: { startedAt: 0, totalMs: 1 }, attempts: 1 };
const probe = (c: ChaosCell, startMs: number, obs: Observation): ProbeRecord => ({ cell: c, startMs, endMs: startMs + 2, obs, credentials: 'current' });
/** The diff stage stand-in: the outcome class decides. */
const input = {
  matches: (exp: Expectation, obs: Observation) => {
    const o = obs.status === 'allowed' ? 'allow' : obs.status === 'denied' && obs.how !== 'refused' ? 'deny' : undefined;
    return o === undefined ? { kind: 'error' as const } : o === exp.outcome ? { kind: 'match' as const } : { kind: 'mismatch' as const, why: `observed ${o}` };
  },
};
const world = () => new World([W], SETS, INVARIANTS.timeToEnforceMs, T0, VALIDITY);
const every = (from: number, to: number, step: number, f: (t: number) => ProbeRecord) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => f(from + i * step));

function run(w: World, records: ProbeRecord[], extra: { harnessError?: string; invariants?: ChaosInvariants; changes?: { atMs: number; from: string; to: string }[] } = {}) {
  const judged = judgeProbes(records, w, input, T0);
  const enforcement = measureEnforcement(
    (extra.changes ?? []).map((c) => ({ change: `policy-change to ${c.to}`, workload: W, untilMs: 10_000, ...c })),
    judged,
    w,
    CELLS,
    INVARIANTS.timeToEnforceMs,
  );
  const result = judgeRun({
    scenario: SCENARIO,
    cells: CELLS,
    judged,
    enforcement,
    recoveries: [],
    invariants: extra.invariants ?? INVARIANTS,
    finalExpectation: (c) => w.expectation(w.setOf(c.workload, 10_000), c),
    ...(extra.harnessError ? { harnessError: extra.harnessError } : {}),
  });
  return { judged, enforcement, ...result, verdict: (c: ChaosCell) => result.cells.find((x) => x.key === c.key)! };
}

describe('chaos judgement and invariants', () => {
  it('a STRICT port accepting plaintext fails open: the cell fails naming the time window, the invariant names the cell', () => {
    const w = world();
    const records = [...every(0, 2000, 50, (t) => probe(MTLS, t, allowed('mtls'))), ...every(0, 2000, 50, (t) => probe(PT, t, t >= 1000 && t <= 1100 ? allowed() : denied()))];
    const r = run(w, records);
    expect(r.judged.filter((j) => j.judged === 'fail-open').map((j) => j.record.startMs)).to.deep.equal([1000, 1050, 1100]);
    const inv = r.invariants.find((i) => i.name === 'no-fail-open')!;
    expect(inv.ok).to.equal(false);
    expect(inv.violations).to.deep.equal([
      `${W}:8080 plaintext-tcp failed open at 1.000 s–1.102 s (3 probes): STRICT port accepted plaintext (expected deny: R-STRICT-plaintext-tcp)`,
    ]);
    expect(r.verdict(PT).verdict).to.equal('fail');
    expect(r.verdict(PT).reason).to.match(/^FAIL-OPEN at 1\.000 s–1\.102 s \(3 probes\)/);
    expect(r.verdict(PT).observedOutcome).to.equal('allow');
    expect(r.verdict(MTLS).verdict).to.equal('pass');
  });

  it('a bad client certificate accepted fails open even on a PERMISSIVE port', () => {
    const w = world();
    w.changePolicy(W, -1, 'permissive', 'test');
    const r = run(w, [probe(EXPIRED, 100, allowed('mtls'))]);
    expect(r.judged[0]!.judged).to.equal('fail-open');
  });

  it('after a policy change the old behaviour is accepted within the bound, the time to enforce is measured, later the old behaviour fails', () => {
    const w = world();
    w.changePolicy(W, 1000, 'permissive', 'policy-change to permissive');
    const good = [...every(0, 3000, 50, (t) => probe(MTLS, t, allowed('mtls'))), ...every(0, 3000, 50, (t) => probe(PT, t, t < 1200 ? denied() : allowed()))];
    const r = run(w, good, { changes: [{ atMs: 1000, from: 'initial', to: 'permissive' }] });
    expect(r.judged.filter((j) => j.judged === 'transition').map((j) => j.record.startMs)).to.deep.equal([1000, 1050, 1100, 1150]);
    expect(r.enforcement).to.have.length(1);
    expect(r.enforcement[0]).to.include({ timeToEnforceMs: 200, ok: true });
    expect(r.verdict(PT).verdict).to.equal('pass');

    const stale = [...every(0, 3000, 50, (t) => probe(MTLS, t, allowed('mtls'))), ...every(0, 3000, 50, (t) => probe(PT, t, denied()))];
    const s = run(world(), stale, { changes: [] });
    expect(s.verdict(PT).verdict).to.equal('pass'); // no change in this world: denial is right
    const w2 = world();
    w2.changePolicy(W, 1000, 'permissive', 'policy-change to permissive');
    const late = run(w2, stale, { changes: [{ atMs: 1000, from: 'initial', to: 'permissive' }] });
    expect(late.enforcement[0]).to.include({ ok: false });
    expect(late.enforcement[0]!.timeToEnforceMs).to.equal(undefined);
    expect(late.judged.filter((j) => j.record.cell === PT && j.record.startMs >= 1500).every((j) => j.judged === 'unavailable')).to.equal(true);
    expect(late.invariants.find((i) => i.name === 'time-to-enforce')!.violations).to.deep.equal([`${W}:8080: policy-change to permissive at 1.000 s was never enforced for good`]);
    expect(late.verdict(PT).verdict).to.equal('fail');
    // The mTLS cell's expectation did not change: the late port does not fail it.
    expect(late.verdict(MTLS).verdict).to.equal('pass');
  });

  it('a fault window tolerates unavailable paths (refused, denied) but never a fail-open, and recovery is measured from the fault end', () => {
    const w = world();
    w.tolerances.push({ workload: W, fromMs: 1000, toMs: 2500, fault: 'kill foo/a' });
    const records = [
      ...every(0, 3000, 50, (t) => probe(MTLS, t, t >= 1000 && t < 1800 ? denied('refused') : allowed('mtls'))),
      ...every(0, 3000, 50, (t) => probe(PT, t, t >= 1000 && t < 1500 ? denied('refused') : t === 1500 ? allowed() : denied())),
    ];
    const r = run(w, records);
    expect(r.judged.filter((j) => j.judged === 'tolerated')).to.have.length(16 + 10);
    expect(r.judged.filter((j) => j.judged === 'fail-open').map((j) => j.record.startMs)).to.deep.equal([1500]);
    expect(r.verdict(MTLS).verdict).to.equal('pass');
    expect(measureRecovery({ fault: 'kill foo/a', workload: W, fromMs: 1200, untilMs: 3000 }, r.judged)).to.equal(600);
  });

  it('an allowed path denied outside fault windows counts against availability; a bound below 1 tolerates it', () => {
    const records = [...every(0, 1950, 50, (t) => probe(MTLS, t, t === 500 ? denied() : allowed('mtls')))];
    const strict = run(world(), records);
    expect(strict.availability).to.equal(39 / 40);
    expect(strict.invariants.find((i) => i.name === 'availability')!.ok).to.equal(false);
    expect(strict.verdict(MTLS).verdict).to.equal('fail');
    const lenient = run(world(), records, { invariants: { ...INVARIANTS, availability: 0.95 } });
    expect(lenient.invariants.find((i) => i.name === 'availability')!.ok).to.equal(true);
    expect(lenient.verdict(MTLS).verdict).to.equal('pass');
    expect(lenient.verdict(MTLS).reason).to.include('1 unavailable');
  });

  it('a probe that could not run is no evidence: the cell is an error, never a pass; a harness error turns passing cells into errors but keeps failures', () => {
    const r = run(world(), [probe(MTLS, 0, allowed('mtls')), probe(MTLS, 50, error), probe(PT, 0, allowed())]);
    expect(r.verdict(MTLS).verdict).to.equal('error');
    expect(r.verdict(EXPIRED).verdict).to.equal('error'); // never probed
    const h = run(world(), [probe(MTLS, 0, allowed('mtls')), probe(PT, 0, allowed()), probe(EXPIRED, 0, denied())], { harnessError: 'the canary of fault "kill" failed' });
    expect(h.verdict(MTLS).verdict).to.equal('error');
    expect(h.verdict(MTLS).reason).to.match(/^the canary of fault "kill" failed; this cell proves nothing/);
    expect(h.verdict(PT).verdict).to.equal('fail');
  });

  it('an mTLS session on an expired server certificate is what a mesh client refuses; before expiry it is not', () => {
    const obs = allowed('mtls', { serverNotAfter: T0 + 1000 });
    expect(asMeshClient(obs, T0 + 999)).to.equal(obs);
    const refused = asMeshClient(obs, T0 + 1000);
    expect(refused).to.include({ status: 'denied', how: 'tls-alert' });
    expect((refused as { alert: { name: string } }).alert.name).to.equal('certificate_expired');
    expect(asMeshClient(allowed('plaintext', { serverNotAfter: T0 }), T0 + 5)).to.include({ status: 'allowed' });
  });

  it('with an expired workload certificate mTLS expects deny, and accepting it is a mismatch, not a fail-open', () => {
    const w = world();
    w.expiries.push({ workload: W, notAfterMs: 1000, installedMs: 500, servedMs: 600, fault: 'cert-expiry' });
    const r = run(w, [
      probe(MTLS, 2000, allowed('mtls', { serverNotAfter: T0 + 1000 })),
      probe(MTLS, 2100, allowed('mtls', { serverNotAfter: T0 + 5000 })),
      probe(PT, 2000, denied()),
    ]);
    expect(r.judged.map((j) => j.judged)).to.deep.equal(['match', 'mismatch', 'match']);
  });

  it('a clock skew flips certificate validity: the mesh client is refused, the expired one accepted', () => {
    const w = world();
    w.skews.push({ workload: W, offsetMs: -36 * 3_600_000, fromMs: 1000, settledMs: 1200, toMs: 3000, backMs: 3200 });
    const accs = (c: ChaosCell, t: number) => w.acceptable(c, t, t + 1).map((a) => `${a.tag}:${a.exp.outcome}`);
    expect(accs(MTLS, 500)).to.deep.equal(['current:allow']);
    expect(accs(MTLS, 1100)).to.deep.equal(['current:deny', 'previous:allow']); // the restart settles: either clock
    expect(accs(MTLS, 2000)).to.deep.equal(['current:deny']);
    expect(accs(EXPIRED, 2000)).to.deep.equal(['current:allow']);
    expect(accs(EXPIRED, 3100)).to.deep.equal(['current:deny', 'previous:allow']);
    expect(accs(PT, 2000)).to.deep.equal(['current:deny']);
    expect(w.skewFlips(MTLS, 'initial', T0 - 36 * 3_600_000)).to.equal(true);
    expect(w.skewFlips(MTLS, 'initial', T0 + 5000)).to.equal(false);
  });
});
