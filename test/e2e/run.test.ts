import { expect } from 'chai';
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'test/e2e/fixtures');
const bin = join(root, 'bin/meshconform.js');

interface Cli {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  out: string;
  tmp: string;
}

/** Runs the real CLI in its own process with a private TMPDIR and output folder. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  const out = mkdtempSync(join(tmpdir(), 'mc-e2e-out-'));
  const tmp = mkdtempSync(join(tmpdir(), 'mc-e2e-tmp-'));
  const r = await execa(process.execPath, [bin, ...args.map((a) => a.replace('$OUT', out))], {
    cwd: root,
    env: { ...env, TMPDIR: tmp, NO_COLOR: '1' },
    reject: false,
    timeout: 120_000,
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, out, tmp };
}

function report(c: Cli): RunResult {
  const latest = join(c.out, 'latest', 'report.json');
  return JSON.parse(readFileSync(latest, 'utf8')) as RunResult;
}

/** What the harness put in TMPDIR (tsx keeps its own compile cache there). */
function ours(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => !n.startsWith('tsx-'));
}

/** Nothing a run created may survive it: no temp files, no listeners on its subnet. */
async function expectCleanedUp(c: Cli, subnet: string, ports: number[]): Promise<void> {
  expect(ours(c.tmp), 'temp files left behind').to.deep.equal([]);
  for (const port of ports) {
    for (const host of [`${subnet}.1.1`, `${subnet}.1.2`]) {
      const accepted = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(false));
        s.listen(port, host, () => s.close(() => resolve(true)));
      });
      expect(accepted, `${host}:${port} still held after the run`).to.equal(true);
    }
  }
}

const scenario = (name: string) => join(fixtures, 'scenarios', `${name}.yaml`);
const dataPlane = (name: string) => `exec:${process.execPath} ${join(fixtures, 'data-planes', `${name}.mjs`)}`;

describe('meshconform run (end to end, real processes and TLS)', function () {
  this.timeout(120_000);

  it('passes every cell of real scenarios on the reference data plane and writes the reports', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), scenario('port-level-disable'), '--out', '$OUT', '--local-subnet', '127.211', '--retries', '0']);
    expect(c.stderr).to.equal('');
    expect(c.exitCode, c.stdout).to.equal(0);
    const r = report(c);
    expect(r.apiVersion).to.equal('meshconform.dev/v1alpha1');
    expect(r.summary).to.deep.include({ cells: 45, passed: 45, failed: 0, errors: 0, skipped: 0 });
    expect(existsSync(join(c.out, r.runId, 'report.json'))).to.equal(true);
    expect(readFileSync(join(c.out, r.runId, 'junit.xml'), 'utf8').match(/<testcase /g)).to.have.length(45);

    const cell = (w: string, port: number, client: string) => r.scenarios.flatMap((s) => s.cells).find((x) => x.workload === w && x.port === port && x.client === client)!;
    const strictPlain = cell('foo/finance', 8080, 'plaintext-tcp');
    expect(strictPlain.expected.mode).to.equal('STRICT');
    expect(strictPlain.observed?.status).to.equal('denied');
    expect(strictPlain.decidedBy).to.deep.equal([{ level: 'namespace', namespace: 'foo', name: 'default' }]);
    const strictMtls = cell('foo/finance', 8080, 'mtls-tcp');
    expect(strictMtls.observed?.status).to.equal('allowed');
    expect(strictMtls.observed?.tls?.serverIdentity).to.equal('spiffe://cluster.local/ns/foo/sa/finance');
    expect(strictMtls.observed?.tls?.alpn).to.equal('istio-peer-exchange');
    const noCert = cell('foo/finance', 8080, 'tls-no-client-cert');
    expect(noCert.observed?.status).to.equal('denied');
    const passthrough = cell('bar/web', 8080, 'tls-no-client-cert');
    expect(passthrough.observed).to.deep.include({ status: 'allowed', path: 'passthrough' });
    const disabled = cell('foo/finance', 8080, 'mtls-tcp');
    expect(disabled.verdict).to.equal('pass');
    const portDisable = r.scenarios.find((s) => s.name === 'port-level-disable')!.cells.find((x) => x.port === 8080 && x.client === 'mtls-tcp')!;
    expect(portDisable.expected.outcome).to.equal('passthrough');
    expect(portDisable.decidedBy.map((d) => d.level)).to.deep.equal(['workload', 'port']);
    await expectCleanedUp(c, '127.211', [8080, 9090]);
  });

  it('fails (exit 1) when the data plane fails open, naming the failing cell', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), '--data-plane', dataPlane('open-proxy'), '--out', '$OUT', '--local-subnet', '127.212', '--retries', '0']);
    expect(c.exitCode, c.stderr).to.equal(1);
    const r = report(c);
    const plain = r.scenarios[0]!.cells.find((x) => x.workload === 'foo/finance' && x.port === 8080 && x.client === 'plaintext-tcp')!;
    expect(plain.verdict).to.equal('fail');
    expect(plain.observed?.status).to.equal('allowed');
    expect(r.summary.failed).to.be.greaterThan(0);
    // The permissive workload's plaintext cells still pass: the verdict is per cell, not per run.
    expect(r.scenarios[0]!.cells.find((x) => x.workload === 'bar/web' && x.client === 'plaintext-tcp')!.verdict).to.equal('pass');
    expect(c.stdout).to.match(/foo\/finance:8080/);
    await expectCleanedUp(c, '127.212', [8080, 9090]);
  });

  it('reports error, never pass, when the data plane stops listening after it was ready', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), '--data-plane', dataPlane('vanishing-proxy'), '--out', '$OUT', '--local-subnet', '127.213', '--retries', '0']);
    expect(c.exitCode).to.equal(2);
    const r = report(c);
    expect(r.summary.passed).to.equal(0);
    expect(r.summary.errors).to.equal(r.summary.cells);
    await expectCleanedUp(c, '127.213', [8080, 9090]);
  });

  it('reports error, never pass, when the data plane exits after it was ready', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), '--data-plane', dataPlane('vanishing-proxy'), '--out', '$OUT', '--local-subnet', '127.214'], { VANISH: 'exit' });
    expect(c.exitCode).to.equal(2);
    const r = report(c);
    expect(r.summary.passed).to.equal(0);
    expect(r.summary.errors).to.equal(r.summary.cells);
    expect(r.scenarios[0]!.cells[0]!.reason).to.match(/exit code 3|refused/);
  });

  it('a data plane that crashes at start: exit 2, one clear message with its stderr, nothing left', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), '--data-plane', dataPlane('crash-at-start'), '--out', '$OUT', '--local-subnet', '127.215']);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/exited at start \(exit code 7\).*fatal: cannot load listener configuration/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    await expectCleanedUp(c, '127.215', [8080, 9090]);
  });

  it('a data-plane command that does not exist: exit 2 naming it', async () => {
    const c = await cli(['run', scenario('strict-and-permissive'), '--data-plane', 'exec:/nonexistent/proxy --flag', '--out', '$OUT', '--local-subnet', '127.216']);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/\/nonexistent\/proxy/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    await expectCleanedUp(c, '127.216', [8080, 9090]);
  });

  it('a port already in use: exit 2 naming the workload and address', async () => {
    const blocker: Server = await new Promise((resolve) => {
      const s = createServer().listen(9090, '127.217.1.1', () => resolve(s));
    });
    try {
      const c = await cli(['run', scenario('strict-and-permissive'), '--out', '$OUT', '--local-subnet', '127.217']);
      expect(c.exitCode).to.equal(2);
      expect(c.stderr).to.match(/foo\/finance port 9090: cannot use 127\.217\.1\.1:9090 \(address already in use\)/);
      expect(ours(c.tmp)).to.deep.equal([]);
    } finally {
      blocker.close();
    }
  });

  it('an author expectation that contradicts the oracle is a scenario lint error (exit 1), not a mesh failure', async () => {
    const c = await cli(['run', scenario('wrong-expectation'), '--out', '$OUT', '--local-subnet', '127.218']);
    expect(c.exitCode).to.equal(1);
    const r = report(c);
    expect(r.lintErrors).to.equal(1);
    expect(r.summary.failed).to.equal(0);
    expect(r.scenarios[0]!.lint[0]!.message).to.match(/STRICT/);
    expect(c.stdout).to.match(/lint/i);
  });

  it('malformed YAML: exit 2 with file:line:column and no report written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-e2e-bad-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nspec:\n  workloads: [ { name: a\n');
    try {
      const c = await cli(['run', file, '--out', '$OUT']);
      expect(c.exitCode).to.equal(2);
      expect(c.stderr).to.match(/broken\.yaml:\d+:\d+/);
      expect(c.stderr).not.to.match(/\n\s+at /);
      expect(readdirSync(c.out)).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad flags: exit 2 with a usage message', async () => {
    for (const args of [['run', '--retries', 'abc'], ['run', '--reporter', 'nope'], ['run', '--data-plane', 'bogus'], ['frobnicate']]) {
      const c = await cli(args);
      expect(c.exitCode, args.join(' ')).to.equal(2);
      expect(c.stderr, args.join(' ')).to.match(/\S/);
      expect(c.stderr).not.to.match(/\n\s+at /);
    }
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} during a run removes every process and file it created`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'mc-e2e-out-'));
      const tmp = mkdtempSync(join(tmpdir(), 'mc-e2e-tmp-'));
      const child: ResultPromise = execa(process.execPath, [bin, 'run', join(root, 'scenarios'), '--out', out, '--local-subnet', '127.219', '--parallel', '1'], {
        cwd: root,
        env: { TMPDIR: tmp, NO_COLOR: '1' },
        reject: false,
      });
      // Wait until environments exist (a temp folder with configs appears), then interrupt.
      const until = Date.now() + 30_000;
      while (!ours(tmp).some((n) => n.startsWith('meshconform-')) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      child.kill(signal);
      const r = await child;
      expect(r.exitCode).to.equal(code);
      expect(ours(tmp), 'temp files left').to.deep.equal([]);
      const listeners = await execa('ss', ['-ltnH'], { reject: false });
      expect(listeners.stdout).not.to.match(/127\.219\./);
    });
  }
});
