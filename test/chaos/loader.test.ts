import { expect } from 'chai';
import { execa } from 'execa';
import { loadScenarioFile } from '../../src/scenario/index.js';
import { ScenarioError } from '../../src/util/errors.js';
import { BIN, PERMISSIVE_FOO, ROOT, tempDir, writeScenario } from './helpers.js';

async function errorLines(file: string): Promise<string[]> {
  try {
    await loadScenarioFile(file);
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n');
    throw err;
  }
  throw new Error(`${file} loaded without an error`);
}

describe('chaos scenario loader', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const at = (file: string, line: number, col: number) => `${file}:${line}:${col}`;

  it('loads a chaos section with its defaults', async () => {
    const file = writeScenario(tmp.path, 'defaults', { chaos: ['    duration: 3s', '    steps:', '      - { at: 500ms, fault: kill, workload: foo/finance }'].join('\n') });
    const s = await loadScenarioFile(file);
    const c = s.chaos!;
    expect(c.durationMs).to.equal(3000);
    expect(c.probeIntervalMs).to.equal(50);
    expect(c.clients).to.deep.equal(['plaintext', 'mtls', 'mtls-foreign-ca']);
    expect(c.invariants).to.deep.equal({ timeToEnforceMs: 3000, recoveryMs: 5000, availability: 1 });
    expect(c.steps).to.have.length(1);
    expect(c.steps[0]).to.include({ fault: 'kill', atMs: 500, durationMs: 1000, workload: 'foo/finance' });
    expect(c.steps[0]!.source).to.deep.equal({ file, line: 12, column: 9 });
  });

  it('an unknown fault, an unknown workload, an unknown policy set and a field the fault does not take are errors at their place', async () => {
    const file = writeScenario(tmp.path, 'bad-steps', {
      chaos: [
        '    duration: 4s',
        '    steps:',
        '      - { at: 1s, fault: explode, workload: foo/finance }',
        '      - { at: 1s, fault: kill, workload: foo/nope }',
        '      - { at: 2s, fault: policy-change, policySet: nope }',
        '      - { at: 3s, fault: cert-rotation, workload: foo/finance, latency: 5ms }',
        '      - { at: 3s, fault: latency, workload: foo/finance }',
      ].join('\n'),
    });
    expect(await errorLines(file)).to.deep.equal([
      `${at(file, 12, 26)}: spec.chaos.steps[0].fault: "explode" is not allowed; allowed: kill, restart, policy-change, cert-rotation, cert-expiry, ca-rotation, distribution-pause, latency, bandwidth, reset, blackhole, partition, packet-loss, clock-skew`,
      `${at(file, 13, 42)}: spec.chaos.steps[1].workload: unknown workload "foo/nope"; workloads of this scenario: foo/finance`,
      `${at(file, 14, 52)}: spec.chaos.steps[2].policySet: unknown policy set "nope"; policy sets of this scenario: initial (define them under chaos.policySets)`,
      `${at(file, 15, 64)}: spec.chaos.steps[3]: fault cert-rotation does not take "latency"; it takes: workload`,
      `${at(file, 16, 9)}: spec.chaos.steps[4]: fault latency needs "latency"`,
    ]);
  });

  it('a schedule longer than the run is an error naming the step', async () => {
    const file = writeScenario(tmp.path, 'too-long', {
      chaos: [
        '    duration: 3s',
        '    steps:',
        '      - { at: 2s, fault: blackhole, workload: foo/finance, duration: 2s }',
        '      - { at: 3s, fault: restart, workload: foo/finance }',
        '      - { at: 2500ms, fault: kill, workload: foo/finance }',
      ].join('\n'),
    });
    const lines = await errorLines(file);
    expect(lines[0]).to.equal(
      `${at(file, 12, 70)}: spec.chaos.steps[0].duration: the blackhole fault lasts until 4000 ms, past the end of the run (3000 ms): the schedule is longer than the run`,
    );
    expect(lines[1]).to.equal(
      `${at(file, 13, 15)}: spec.chaos.steps[1].at: the step starts at 3000 ms, at or after the end of the run (3000 ms): the schedule is longer than the run`,
    );
    expect(lines[2]).to.equal(
      `${at(file, 14, 15)}: spec.chaos.steps[2].at: the kill fault lasts until 3500 ms (default duration 1000 ms), past the end of the run (3000 ms): the schedule is longer than the run`,
    );
  });

  it('faults that overlap on one workload are refused', async () => {
    const file = writeScenario(tmp.path, 'overlap', {
      chaos: [
        '    duration: 6s',
        '    steps:',
        '      - { at: 1s, fault: kill, workload: foo/finance }',
        '      - { at: 2500ms, fault: cert-rotation, workload: foo/finance }',
      ].join('\n'),
    });
    expect(await errorLines(file)).to.deep.equal([
      `${at(file, 13, 9)}: cert-rotation at 2500 ms overlaps kill at 1000 ms (${at(file, 12, 9)}) on foo/finance, which lasts until 3000 ms; faults on one workload must not overlap`,
    ]);
  });

  it('a random schedule that cannot fit, random with steps, and chaos outside sidecar mode are errors', async () => {
    const file = writeScenario(tmp.path, 'random-bad', {
      mode: 'ambient',
      chaos: ['    duration: 3s', '    steps: []', '    random: { count: 5, faults: [kill, policy-change] }'].join('\n'),
    });
    expect(await errorLines(file)).to.deep.equal([
      `${at(file, 11, 5)}: spec.chaos: chaos scenarios run in sidecar mode only; this scenario's mode is "ambient"`,
      `${at(file, 13, 5)}: spec.chaos: give either steps or random, not both (a random schedule is generated to fit the run on its own)`,
      `${at(file, 13, 22)}: spec.chaos.random.count: 5 random faults need a run of at least 5500 ms (a 1000 ms slot each after the first 500 ms); the run lasts 3000 ms`,
      `${at(file, 13, 33)}: spec.chaos.random.faults: policy-change needs at least one named policy set in chaos.policySets`,
    ]);
  });

  it('policy sets are validated like spec.policies (admission rules)', async () => {
    const file = writeScenario(tmp.path, 'bad-set', {
      chaos: [
        '    duration: 3s',
        '    policySets:',
        '      broken:',
        '        - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: x, namespace: foo }, spec: { mtls: { mode: STRIKT } } }',
      ].join('\n'),
    });
    const [line] = await errorLines(file);
    expect(line).to.match(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:13:134: spec\\.chaos\\.policySets\\.broken\\[0\\]\\.spec\\.mtls\\.mode: Unsupported value: "STRIKT"`),
    );
  });

  describe('checked by run before anything starts (exit 2)', () => {
    const run = (file: string, ...args: string[]) =>
      execa(process.execPath, [BIN, 'run', file, '--reporter', 'json', '--out', tmp.path, ...args], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } });

    it('a fault the backend cannot do (packet loss on local)', async () => {
      const file = writeScenario(tmp.path, 'loss-local', {
        chaos: ['    duration: 3s', '    steps:', '      - { at: 1s, fault: packet-loss, workload: foo/finance, percent: 20 }'].join('\n'),
      });
      const r = await run(file);
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include(`${file}:12:9: fault packet-loss needs packet-loss, which the local backend cannot do`);
      expect(r.stderr).to.not.match(/\n\s+at /); // no stack trace
      expect(r.stdout).to.not.include('scenario run(s)'); // nothing started
    });

    it('the same fault restricted to the netns backend is skipped on local with the reason; a run of only that probes nothing (exit 2)', async () => {
      const file = writeScenario(tmp.path, 'loss-netns', {
        chaos: ['    duration: 3s', '    backends: [netns]', '    steps:', '      - { at: 1s, fault: packet-loss, workload: foo/finance, percent: 20 }'].join('\n'),
      });
      const r = await run(file);
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include('nothing was probed');
      expect(r.stderr).to.include('chaos scenario for the netns backend only (this run uses local)');
      expect(r.stderr).to.not.match(/\n\s+at /); // no stack trace
    });

    it('a policy change that changes no probed cell proves nothing: an error', async () => {
      const file = writeScenario(tmp.path, 'vacuous', {
        policies: PERMISSIVE_FOO,
        chaos: [
          '    duration: 3s',
          '    clients: [mtls]',
          '    policySets:',
          '      strict:',
          `        - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { mtls: { mode: STRICT } } }`,
          '    steps:',
          '      - { at: 1s, fault: policy-change, policySet: strict }',
        ].join('\n'),
      });
      const r = await run(file);
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include(`${file}:16:9: policy-change to strict changes no probed cell`);
    });

    it('a clock skew that changes no certificate validity, and a rotation on a workload that terminates no mTLS, are errors', async () => {
      const file = writeScenario(tmp.path, 'vacuous-tls', {
        workloads: [
          '    - { name: finance, namespace: foo, labels: { app: finance }, ports: [8080] }',
          '    - { name: web, namespace: foo, labels: { app: web }, ports: [80] }',
        ].join('\n'),
        policies: [
          `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { mtls: { mode: STRICT } } }`,
          `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: web, namespace: foo }, spec: { selector: { matchLabels: { app: web } }, mtls: { mode: DISABLE } } }`,
        ].join('\n'),
        chaos: [
          '    duration: 5s',
          '    steps:',
          '      - { at: 1s, fault: clock-skew, workload: foo/finance, offset: 5s, duration: 1s }',
          '      - { at: 1s, fault: cert-rotation, workload: foo/web }',
        ].join('\n'),
      });
      const r = await run(file);
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include(`${file}:14:9: clock-skew of 5000 ms on foo/finance changes no probed cell`);
      expect(r.stderr).to.include(`${file}:15:9: cert-rotation on foo/web: no port of foo/web terminates mTLS`);
    });

    it('--seed must be a whole number', async () => {
      const r = await run(writeScenario(tmp.path, 'seed-flag', { chaos: '    duration: 1s' }), '--seed', 'abc');
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include('--seed must be a whole number');
    });
  });
});
