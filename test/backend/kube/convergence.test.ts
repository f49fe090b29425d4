// Convergence (Gateway API's rule): after an apply, probe until N matching results in a row or a deadline; the
// time to enforce per cell; a cell that matched, then disagreed, is flaky. The loop with a fake clock, then the
// verdicts a kube run derives from it (a scripted agent behind the KubeBackend interface).
import { expect } from 'chai';
import { converge, type AgentSession, type Judgement } from '../../../src/backend/kube/index.js';
import type { AllowedObservation, CellKey, Expectation, Observation, ProbeJob, Backend } from '../../../src/model/index.js';
import { expectations } from '../../../src/oracle/index.js';
import { e2eScenario, runKubeSuite, scenario } from './support.js';

const obs = (status: 'allowed' | 'denied'): Observation =>
  status === 'denied'
    ? { status, how: 'reset', detail: 'ECONNRESET', timings: { startedAt: 0, totalMs: 1 }, attempts: 1 }
    : { status, path: 'plaintext', echo: { workload: 'a/b', port: 1, received: 'plaintext', protocol: 'tcp' }, timings: { startedAt: 0, totalMs: 1 }, attempts: 1 };

/** A fake clock: each round costs 100 ms, each pause what it asks. */
function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), tick: (ms: number) => void (t += ms) };
}

describe('convergence: N matching results in a row or a deadline', () => {
  it('per cell: converged, time to enforce from the start of the final run of matches, flapping, deadline', async () => {
    const c = clock();
    // What each cell shows, round by round ('m' match, 'x' mismatch, 'e' error); the last letter repeats.
    const scripts: Record<string, string> = { steady: 'm', late: 'xxm', flappy: 'mxm', never: 'x', broken: 'e', errorThenOk: 'em' };
    const probed = new Map<string, number>();
    const result = await converge(
      Object.keys(scripts),
      async (keys) => {
        c.tick(100);
        return new Map(keys.map((k) => [k, obs('allowed')]));
      },
      (key) => {
        const n = probed.get(key) ?? 0;
        probed.set(key, n + 1);
        const s = scripts[key]!;
        const letter = s[Math.min(n, s.length - 1)]!;
        return ({ m: 'match', x: 'mismatch', e: 'error' } as Record<string, Judgement>)[letter]!;
      },
      { successes: 3, deadlineMs: 2000, intervalMs: 200, now: c.now, sleep: c.sleep },
    );
    const r = (k: string) => result.get(k)!;
    expect(r('steady')).to.deep.include({ converged: true, flapped: false, enforcedAtMs: 100 });
    // Three in a row, then once more after every cell converged.
    expect(r('steady').history.length).to.equal(4);
    // Rounds at 100, 400, 700, 1000, 1300: the late cell's matches begin in round 3 (700 ms).
    expect(r('late')).to.deep.include({ converged: true, flapped: false, enforcedAtMs: 700 });
    expect(r('flappy')).to.deep.include({ converged: true, flapped: true, enforcedAtMs: 700 });
    expect(r('never')).to.deep.include({ converged: false, flapped: false });
    expect(r('never')).to.not.have.property('enforcedAtMs');
    expect(r('broken').converged).to.equal(false);
    expect(r('errorThenOk')).to.deep.include({ converged: true, flapped: false, enforcedAtMs: 400 });
    // Converged cells are probed once more at the end; unconverged ones until the deadline (2000 ms), not beyond it.
    expect(probed.get('steady')).to.equal(4);
    expect(probed.get('never')).to.equal(r('never').history.length);
    expect(r('never').history.at(-1)!.atMs).to.be.at.least(2000);
    expect(r('never').history.at(-1)!.atMs).to.be.below(2000 + 300 + 1);
  });
});

describe('convergence: a cell whose expectation equals its baseline waits for evidence', () => {
  // The late-apply false pass: the mesh keeps the old configuration for a while, then applies the policy wrongly.
  // The exception cell (plaintext allowed, as before the apply) would converge on the old configuration; it must not.
  const allowed = obs('allowed');
  const denied = obs('denied');
  const outcomeOf = (o: Observation) => o.status;
  async function run(withEvidence: boolean, configOn?: (proxy: string) => Promise<boolean>) {
    const c = clock();
    let round = 0;
    // Rounds 0-3: old configuration (everything allowed); from round 4: the policy, wrongly (both ports denied).
    const result = await converge(
      ['w|8080|plain', 'w|9090|plain'],
      async (keys) => {
        c.tick(100);
        const late = round++ >= 4;
        return new Map(keys.map((k) => [k, late ? denied : allowed]));
      },
      (key, o) => ((key.includes('8080') ? o.status === 'denied' : o.status === 'allowed') ? 'match' : 'mismatch'),
      { successes: 3, deadlineMs: 3000, intervalMs: 100, now: c.now, sleep: c.sleep },
      withEvidence
        ? {
            baseline: new Map([
              ['w|8080|plain', allowed],
              ['w|9090|plain', allowed],
            ]),
            proxyOf: () => 'w',
            outcomeOf,
            ...(configOn ? { configOn } : {}),
          }
        : undefined,
    );
    return result;
  }

  it('without a baseline the exception cell settles on the old configuration; only the final recheck catches it', async () => {
    const r = await run(false);
    const exception = r.get('w|9090|plain')!;
    // Three matches in a row on the old configuration made it "converged" (the false pass)...
    expect(exception.history.slice(0, 3).every((x) => x.judgement === 'match')).to.equal(true);
    // ...until the probe after every cell converged.
    expect(exception).to.deep.include({ converged: false, finalMismatch: true });
  });

  it('with the baseline it counts only after the sibling flips, and then fails; the evidence is recorded', async () => {
    const r = await run(true);
    const exception = r.get('w|9090|plain')!;
    expect(exception).to.deep.include({ converged: false, evidence: 'proxy-flipped' });
    // Its matches on the old configuration are not counted: every counted observation is the wrong denial.
    expect(exception.history.slice(exception.countedFrom).every((x) => x.judgement === 'mismatch')).to.equal(true);
    expect(exception.countedFrom).to.be.greaterThan(0);
    expect(r.get('w|8080|plain')!).to.deep.include({ converged: true, evidence: 'differs-from-baseline' });
  });

  it("the mesh's own view counts as evidence; without any evidence the cell never converges", async () => {
    const seen: string[] = [];
    const viaConfig = await converge(
      ['w|9090|plain'],
      async (keys) => new Map(keys.map((k) => [k, allowed])),
      () => 'match',
      { successes: 2, deadlineMs: 50, intervalMs: 0 },
      { baseline: new Map([['w|9090|plain', allowed]]), proxyOf: () => 'w', outcomeOf, configOn: async (p) => (seen.push(p), seen.length >= 2) },
    );
    expect(viaConfig.get('w|9090|plain')).to.deep.include({ converged: true, evidence: 'proxy-config', countedFrom: 2 });
    const c = clock();
    const none = await converge(
      ['w|9090|plain'],
      async (keys) => (c.tick(100), new Map(keys.map((k) => [k, allowed]))),
      () => 'match',
      { successes: 2, deadlineMs: 1000, intervalMs: 100, now: c.now, sleep: c.sleep },
      { baseline: new Map([['w|9090|plain', allowed]]), proxyOf: () => 'w', outcomeOf },
    );
    expect(none.get('w|9090|plain')).to.deep.include({ converged: false, evidence: 'none' });
  });

  it('the probe after every cell converged catches a cell that stopped holding', async () => {
    let n = 0;
    const r = await converge(
      ['a'],
      async (keys) => new Map(keys.map((k) => [k, n++ < 3 ? allowed : denied])),
      (_k, o) => (o.status === 'allowed' ? 'match' : 'mismatch'),
      { successes: 3, deadlineMs: 1000, intervalMs: 0 },
    );
    expect(r.get('a')).to.deep.include({ converged: false, finalMismatch: true });
  });
});

describe('kube run verdicts from convergence (scripted agent)', () => {
  it('pass with time to enforce; flaky when a cell flips back; fail with the last observation when it never settles', async () => {
    const s = await scenario(e2eScenario('port-level-disable'));
    const exps = new Map<string, Expectation>(expectations(s, 'sidecar').map((e) => [e.key, e]));
    const rounds = new Map<CellKey, number>();
    const right = (e: Expectation, j: ProbeJob): Observation => {
      if (e.outcome === 'deny') return obs('denied');
      const tls = j.client.startsWith('plaintext')
        ? undefined
        : { version: 'TLSv1.3', alpn: null, serverIdentity: j.expectedServerIdentity, serverIssuer: 'mesh' as const, serverIdentityOk: true };
      const path = e.outcome === 'passthrough' ? 'passthrough' : tls ? 'mtls' : 'plaintext';
      return {
        status: 'allowed',
        path,
        echo: { workload: e.workload, port: e.port, received: e.outcome === 'passthrough' ? 'tls' : 'plaintext', protocol: e.protocol },
        ...(tls && e.outcome !== 'passthrough'
          ? { tls }
          : e.outcome === 'passthrough'
            ? { tls: { ...tls!, serverIdentity: null, serverIssuer: 'app', serverIdentityOk: false } }
            : {}),
        timings: { startedAt: Date.now(), totalMs: 1 },
        attempts: 1,
      };
    };
    const wrong = (e: Expectation): Observation =>
      e.outcome === 'deny'
        ? { ...(obs('allowed') as AllowedObservation), echo: { workload: e.workload, port: e.port, received: 'plaintext', protocol: e.protocol } }
        : obs('denied');
    // 9090 plaintext-tcp is denied only from the third round (propagation); 8080 mtls-foreign-ca flips once; 9090 mtls-tcp never works.
    const script = (key: string): 'right' | 'wrong' => {
      const n = rounds.get(key) ?? 0;
      if (key.endsWith('|9090|plaintext-tcp')) return n < 2 ? 'wrong' : 'right';
      if (key.endsWith('|8080|mtls-foreign-ca')) return n === 1 ? 'wrong' : 'right';
      if (key.endsWith('|9090|mtls-tcp')) return 'wrong';
      if (key.endsWith('|8080|plaintext-tcp')) return n % 2 === 0 ? 'right' : 'wrong';
      return 'right';
    };
    let baselineDone = false;
    const agent: AgentSession = {
      credentials: ['mesh', 'foreignCa', 'expired', 'otherTrustDomain'],
      async probe(jobs) {
        const out = new Map<CellKey, Observation>();
        if (!baselineDone) {
          // The baseline round: errors (no outcome), so no cell waits for evidence and none counts as a flip.
          baselineDone = true;
          for (const j of jobs) out.set(j.key, { status: 'error', message: 'not ready', timings: { startedAt: 0, totalMs: 1 }, attempts: 1 });
          return out;
        }
        for (const j of jobs) {
          const e = exps.get(j.key)!;
          out.set(j.key, script(j.key) === 'right' ? right(e, j) : wrong(e));
          rounds.set(j.key, (rounds.get(j.key) ?? 0) + 1);
        }
        return out;
      },
      async close() {},
    };
    const backend: Backend = {
      name: 'cluster',
      settle: 'convergence',
      parallelScenarios: false,
      dryRun: false,
      unsupported: () => undefined,
      open: async () => ({
        details: () => ({ context: 'fake' }),
        prober: agent,
        deploy: async () => ({
          targets: new Map([
            [
              'foo/finance',
              {
                address: '10.0.0.7',
                ports: new Map([
                  [8080, 8080],
                  [9090, 9090],
                ]),
              },
            ],
          ]),
          applyPolicies: async () => ({ kind: 'applied' as const }),
          health: () => [],
          stop: async () => {},
        }),
        unsupportedHere: () => undefined,
        awaitAdmissionReady: async () => {},
        close: async () => {},
      }),
      meshTrustDomain: async () => undefined,
    };
    const r = (await runKubeSuite({
      scenarios: [s],
      paths: ['x'],
      backend,
      runId: 'conv',
      concurrency: 4,
      timeoutMs: 1000,
      convergence: { successes: 3, deadlineMs: 1500, intervalMs: 20 },
      dataPlaneName: 'fake',
    }))!;
    const cell = (suffix: string) => r.scenarios[0]!.cells.find((c) => c.key.endsWith(suffix))!;
    expect(cell('|8080|mtls-tcp')).to.deep.include({ verdict: 'pass' });
    // Three in a row, then the recheck after every cell converged.
    expect(cell('|8080|mtls-tcp').observed!.attempts).to.equal(4);
    expect(cell('|9090|plaintext-tcp').verdict).to.equal('pass');
    expect(cell('|9090|plaintext-tcp').reason).to.match(
      /Enforced \d+ ms after the apply \(3 matching results in a row, and once more after every cell converged\)\. Evidence of the new configuration: it differs from what the cell showed before the apply\.$/,
    );
    expect(cell('|9090|plaintext-tcp').observed!.attempts).to.equal(6);
    expect(cell('|8080|mtls-foreign-ca').verdict).to.equal('flaky');
    expect(cell('|8080|mtls-foreign-ca').reason).to.match(
      /^matched at \d+ ms, then disagreed at \d+ ms \(expected passthrough .* but denied by reset .*[^.]\), then settled at \d+ ms after the apply\. Evidence/,
    );
    expect(cell('|9090|mtls-tcp').verdict).to.equal('fail');
    expect(cell('|9090|mtls-tcp').reason).to.match(
      /No 3 matching results in a row within 1500 ms of the apply \(\d+ probes\)\. Evidence of the new configuration: it differs from what the cell showed before the apply\.$/,
    );
    // Right on the first probe, then alternating forever: never a pass.
    expect(cell('|8080|plaintext-tcp').verdict).to.equal('flaky');
    expect(cell('|8080|plaintext-tcp').reason).to.match(/^matched \d+ of \d+ times; at \d+ ms: expected allow .*\. No 3 matching results in a row within 1500 ms/);
    expect(r.summary).to.deep.include({ cells: 18, passed: 15, flaky: 2, failed: 1 });
    const tl = r.scenarios[0]!.timeline!;
    // One cell never converged: no time to enforce for the scenario, but every probe is on the timeline.
    expect(tl).to.not.have.property('timeToEnforceMs');
    expect(tl.probes.filter((p) => p.key.endsWith('|9090|mtls-tcp')).every((p) => p.observed === 'deny' && p.expected === 'allow')).to.equal(true);
    expect(r.options).to.deep.include({ settle: 'convergence: 3 in a row within 1500 ms, rounds 20 ms apart' });
    expect(r.options, 'a convergence run has no retries').to.not.have.property('retries');
  });
});
