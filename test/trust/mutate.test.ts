// meshconform mutate through the real CLI: the built-in suite catches every planted defect, and the command never
// counts a harness failure as a catch.
import { expect } from 'chai';
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFECTS, KNOWN_DEFECTS } from '../../harness/reference/defects.mjs';
import { cli, inProcess, root } from './support/cli.js';

interface MutationJson {
  claim: string;
  score: { caught: number; planted: number };
  baseline: { summary: { cells: number; passed: number }; problem?: string };
  defects: { name: string; status: string; caughtBy: number; examples: string[]; failingCells: string[]; error?: string; complete: boolean }[];
  files?: string;
}

const parse = (stdout: string): MutationJson => JSON.parse(stdout) as MutationJson;

/** What kept a `mutate --json` run from judging: the baseline's problem and each defect run's harness error. */
function harnessProblems(stdout: string): string {
  try {
    const m = parse(stdout);
    return [m.baseline.problem, ...m.defects.map((d) => d.error && `${d.name}: ${d.error}`)].filter(Boolean).join('\n');
  } catch {
    return stdout.slice(-2000);
  }
}

// Loopback /16s below 127.64, which the local backend never picks at random: this file's runs cannot meet another
// test's (test/tiers.ts). The two claims' runs take turns on 127.3–127.27.
describe('trust: meshconform mutate', function () {
  this.timeout(600_000);

  for (const claim of ['spec', 'istio'] as const) {
    it(`the built-in suite catches every planted defect of --claim ${claim}: mutation score 100 %, exit 0`, async function () {
      // As a user runs it: the whole suite, each defect's run stopping at its first failing cell.
      const r = await cli(['mutate', join(root, 'scenarios'), '--json', '--claim', claim, '--local-subnet', '127.3'], { timeoutMs: 580_000 });
      expect(r.exitCode, `${r.stderr}${harnessProblems(r.stdout)}`).to.equal(0);
      const m = parse(r.stdout);
      const planted = DEFECTS.filter((d) => d.kind === 'static' && d.claims.includes(claim)).map((d) => d.name);
      const survivors = m.defects.filter((d) => d.status !== 'caught').map((d) => `${d.name}: ${d.status} ${d.error ?? ''}`);
      expect(survivors, 'defects not caught').to.deep.equal([]);
      expect(m.claim).to.equal(claim);
      expect(m.score).to.deep.equal({ caught: planted.length, planted: planted.length });
      expect(m.defects.map((d) => d.name)).to.have.members(planted);
      // A defect of the Istio claim alone is left out under spec (a data plane doing it is conformant).
      expect(m.defects.some((d) => d.name === 'http-port-accepts-raw-tcp')).to.equal(claim === 'istio');
      expect(m.defects.some((d) => d.name === 'strict-http-accepts-plaintext')).to.equal(true);
      for (const d of m.defects) expect(d.caughtBy, d.name).to.be.greaterThan(0).and.equal(d.failingCells.length);
      expect(m.baseline.summary.passed).to.equal(m.baseline.summary.cells);
      expect(r.leftovers, 'temp files left').to.deep.equal([]);
    });
  }

  it('every defect says under which claims it is one; --defect of another claim is a usage error (exit 2)', async function () {
    for (const d of DEFECTS) expect(d.claims.length, d.name).to.be.greaterThan(0);
    expect(DEFECTS.find((d) => d.name === 'http-port-accepts-raw-tcp')!.claims).to.deep.equal(['istio']);
    expect(DEFECTS.find((d) => d.name === 'strict-http-accepts-plaintext')!.claims).to.deep.equal(['spec', 'istio']);
    const r = await cli(['mutate', '--claim', 'spec', '--defect', 'http-port-accepts-raw-tcp', '--local-subnet', '127.33']);
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/http-port-accepts-raw-tcp: not a defect under --claim spec/);
    expect(r.stderr).to.not.match(/\n\s+at /);
  });

  it('a defect no scenario can see survives: exit 1, the survivor named with what to add', async function () {
    // Both scenarios PERMISSIVE: the first catches permissive-rejects-plaintext, neither sees strict-accepts-plaintext.
    const r = await cli([
      'mutate',
      join(root, 'scenarios/core/no-policy-permissive.yaml'),
      join(root, 'scenarios/core/mesh-unset-is-permissive.yaml'),
      '--defect',
      'strict-accepts-plaintext',
      '--defect',
      'permissive-rejects-plaintext',
      '--parallel',
      '1',
      '--local-subnet',
      '127.28',
    ]);
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/each run stopping at its first failing cell/);
    expect(r.stdout).to.match(
      /caught\s+permissive-rejects-plaintext\s+≥\d+ cell\(s\) in [\d.]+ s \(run stopped at the first failing cell; --all-failures lists every one\), e\.g\. no-policy-permissive /,
    );
    expect(r.stdout).to.match(/survived\s+strict-accepts-plaintext\s+no cell failed .*add a scenario that fails when STRICT ports accept plaintext/);
    expect(r.stdout).to.match(/mutation score: 1\/2 defects caught \(50 %\)/);
  });

  describe('a defect run stops at its first failing cell; --all-failures runs the whole suite', function () {
    const scenario = (s: string) => join(root, 'scenarios', `${s}.yaml`);
    const outDirs: string[] = [];
    after(() => {
      for (const d of outDirs) rmSync(d, { recursive: true, force: true });
    });
    /** `mutate` with `--out`: its output and the scenarios each run's report.json holds, by run (baseline or defect). */
    const mutateOut = async (suite: readonly string[], defects: readonly string[], ...flags: string[]) => {
      const out = mkdtempSync(join(tmpdir(), 'mc-trust-mutate-'));
      outDirs.push(out);
      const r = await cli(['mutate', ...suite.map(scenario), ...defects.flatMap((d) => ['--defect', d]), '--out', out, '--local-subnet', '127.28', ...flags]);
      expect(r.exitCode, r.stderr).to.equal(0);
      const dir = join(out, readdirSync(out)[0]!);
      const ran = (name: string) => (JSON.parse(readFileSync(join(dir, `${name}.report.json`), 'utf8')) as { scenarios: { name: string }[] }).scenarios.map((x) => x.name);
      return { r, ran };
    };
    // One scenario at a time: the first catches the defect, the second would catch it again.
    const PERMISSIVE = ['core/no-policy-permissive', 'core/mesh-unset-is-permissive'];

    it('by default no scenario starts after the first failing cell: the defect run holds one of the two scenarios, its list marked incomplete', async function () {
      const { r, ran } = await mutateOut(PERMISSIVE, ['permissive-rejects-plaintext'], '--parallel', '1', '--json');
      expect(ran('baseline')).to.have.members(['no-policy-permissive', 'mesh-unset-is-permissive']);
      expect(ran('permissive-rejects-plaintext')).to.deep.equal(['no-policy-permissive']);
      const [d] = parse(r.stdout).defects;
      expect(d).to.include({ status: 'caught', complete: false });
      expect(d!.caughtBy).to.equal(d!.failingCells.length).and.be.greaterThan(0);
      for (const k of d!.failingCells) expect(k).to.match(/^no-policy-permissive\|/);
    });

    it('--all-failures runs every scenario and lists every failing cell, marked complete', async function () {
      const { r, ran } = await mutateOut(PERMISSIVE, ['permissive-rejects-plaintext'], '--parallel', '1', '--all-failures');
      expect(ran('permissive-rejects-plaintext')).to.have.members(ran('baseline')).and.have.length(2);
      expect(r.stdout).to.match(/each run through the whole suite/);
      const head = /caught\s+permissive-rejects-plaintext\s+(\d+) cell\(s\) in [\d.]+ s \(complete list\):\n((?: {4}.*\n)+)/.exec(r.stdout);
      expect(head, r.stdout).to.not.equal(null);
      const listed = head![2]!.trimEnd().split('\n');
      expect(listed).to.have.length(Number(head![1]));
      expect(listed.some((l) => l.startsWith('    no-policy-permissive '))).to.equal(true);
      expect(listed.some((l) => l.startsWith('    mesh-unset-is-permissive '))).to.equal(true);
    });

    it('chaos scenarios run only when the static ones caught nothing, even with scenarios in parallel', async function () {
      // policy-change (chaos) goes STRICT for a while: only it sees strict-accepts-plaintext.
      const { r, ran } = await mutateOut(['chaos/policy-change', 'core/no-policy-permissive'], ['permissive-rejects-plaintext', 'strict-accepts-plaintext'], '--json');
      expect(ran('baseline')).to.have.members(['policy-change', 'no-policy-permissive']);
      expect(ran('permissive-rejects-plaintext')).to.deep.equal(['no-policy-permissive']);
      // Both ran (report order is the suite's file order); the chaos one only because the static one caught nothing.
      expect(ran('strict-accepts-plaintext')).to.have.members(['no-policy-permissive', 'policy-change']);
      const byName = new Map(parse(r.stdout).defects.map((d) => [d.name, d]));
      expect(byName.get('permissive-rejects-plaintext')).to.include({ status: 'caught', complete: false });
      const strict = byName.get('strict-accepts-plaintext')!;
      expect(strict).to.include({ status: 'caught', complete: true });
      for (const k of strict.failingCells) expect(k).to.match(/^policy-change\|/);
    });
  });

  it('a harness error during a defect run is "error", never "caught": exit 2', async function () {
    // The defect run takes the /16 after the baseline's; hold its first workload's port so that run cannot start.
    const blocker: Server = await new Promise((resolve) => {
      const s = createServer().listen(8080, '127.32.1.1', () => resolve(s));
    });
    try {
      const r = await cli(['mutate', join(root, 'scenarios/core/ref-namespace-foo-strict.yaml'), '--defect', 'strict-accepts-plaintext', '--json', '--local-subnet', '127.31']);
      expect(r.exitCode, r.stderr).to.equal(2);
      const m = parse(r.stdout);
      expect(m.score).to.deep.equal({ caught: 0, planted: 1 });
      expect(m.defects[0]).to.include({ name: 'strict-accepts-plaintext', status: 'error', caughtBy: 0 });
      expect(m.defects[0]!.error).to.match(/127\.32\.1\.1:8080 \(address already in use\)/);
    } finally {
      blocker.close();
    }
  });

  it('a suite that fails without any defect cannot judge defects: exit 2, no defect run', async function () {
    const r = await cli(['mutate', join(root, 'test/e2e/fixtures/scenarios/wrong-expectation.yaml'), '--defect', 'newest-wins', '--local-subnet', '127.33']);
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/does not pass on the reference data plane without defects \(1 scenario lint error\(s\)\)/);
    expect(r.stdout).not.to.match(/newest-wins/);
  });

  it("--out writes the summary and every run's report.json; no files without it", async function () {
    const out = mkdtempSync(join(tmpdir(), 'mc-trust-mutate-'));
    try {
      const r = await cli([
        'mutate',
        join(root, 'scenarios/precedence/oldest-namespace-policy-wins.yaml'),
        '--defect',
        'newest-wins',
        '--json',
        '--out',
        out,
        '--local-subnet',
        '127.35',
      ]);
      expect(r.exitCode, r.stderr).to.equal(0);
      const [dir] = readdirSync(out);
      expect(dir).to.match(/^mutate-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
      expect(readdirSync(join(out, dir!)).sort()).to.deep.equal(['baseline.report.json', 'mutation.json', 'newest-wins.report.json']);
      const summary = JSON.parse(readFileSync(join(out, dir!, 'mutation.json'), 'utf8')) as MutationJson;
      expect(summary.defects[0]).to.include({ name: 'newest-wins', status: 'caught' });
      expect(parse(r.stdout).files).to.equal(join(out, dir!));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('--list prints the catalogue; bad flags are usage errors (exit 2)', async function () {
    const list = await inProcess(['mutate', '--list']);
    expect(list.code).to.equal(0);
    for (const name of KNOWN_DEFECTS) expect(list.out).to.contain(name);
    const json = await inProcess(['mutate', '--list', '--json']);
    expect((JSON.parse(json.out) as { name: string }[]).map((d) => d.name)).to.deep.equal([...KNOWN_DEFECTS]);
    for (const argv of [
      ['mutate', '--defect', 'nope'],
      ['mutate', '--local-subnet', '127.250'], // no room for 22 consecutive /16s
      ['mutate', '--local-subnet', '10.0'],
      ['mutate', '--parallel-defects', '0'],
      ['mutate', '--all-failures', '--fail-fast'],
      ['mutate', '/nonexistent/suite', '--defect', 'newest-wins'],
    ]) {
      const r = await inProcess(argv);
      expect(r.code, argv.join(' ')).to.equal(2);
      expect(r.err, argv.join(' '))
        .to.match(/\S/)
        .and.not.to.match(/internal error|\n\s+at /);
    }
  });
});
