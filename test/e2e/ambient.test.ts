// Ambient mode end to end: the CLI with a data plane that cannot do ambient (skipped with the reason), and, when the
// reference ambient data plane is available, the whole built-in ambient suite with real HBONE and real TLS.
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataPlaneSpec, RunResult } from '../../src/model/index.js';
import { dataPlaneFor } from '../../src/run/data-plane-for-mode.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const AMBIENT = join(root, 'scenarios/ambient');

async function cli(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; report: () => RunResult }> {
  const out = mkdtempSync(join(tmpdir(), 'mc-ambient-out-'));
  try {
    const r = await execa(process.execPath, [bin, ...args, '--out', out], { cwd: root, env: { NO_COLOR: '1' }, reject: false, timeout: 300_000 });
    const file = join(out, 'latest', 'report.json');
    const report = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RunResult) : undefined;
    return {
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      report: () => {
        if (report === undefined) throw new Error(`no report.json; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        return report;
      },
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('run: the data plane of each mesh mode', () => {
  const sidecar: DataPlaneSpec = { name: 'side', argv: ['x'], workloadsPerProcess: 1 };
  const ambient: DataPlaneSpec = { name: 'amb', argv: ['y'], workloadsPerProcess: 1, meshModes: ['ambient'] };

  it('a data plane runs the modes it declares (sidecar when it declares none), its companion the others', () => {
    expect(dataPlaneFor(sidecar, 'sidecar')).to.deep.equal({ dataPlane: sidecar });
    expect(dataPlaneFor(ambient, 'ambient')).to.deep.equal({ dataPlane: ambient });
    const paired: DataPlaneSpec = { ...sidecar, companion: ambient };
    expect(dataPlaneFor(paired, 'sidecar')).to.deep.equal({ dataPlane: paired });
    expect(dataPlaneFor(paired, 'ambient')).to.deep.equal({ dataPlane: ambient });
    const both: DataPlaneSpec = { ...sidecar, meshModes: ['sidecar', 'ambient'] };
    expect(dataPlaneFor(both, 'ambient')).to.deep.equal({ dataPlane: both });
  });

  it('without one, the skip reason names the data plane, the mode and what would run it', () => {
    expect(dataPlaneFor(sidecar, 'ambient')).to.deep.equal({
      skip: 'data plane side does not implement ambient mode (it implements sidecar); run the ambient half with --data-plane reference-ambient (or a data plane that implements ambient mode)',
    });
    expect(dataPlaneFor(ambient, 'sidecar')).to.deep.equal({
      skip: 'data plane amb does not implement sidecar mode (it implements ambient); run the sidecar half with --data-plane reference',
    });
  });
});

describe('ambient mode through the CLI', function () {
  this.timeout(300_000);

  it('explain --json gives ambient modes with meshMode on every entry, both modes for a both scenario', async () => {
    const r = await execa(process.execPath, [bin, 'explain', '--json', join(AMBIENT, 'ambient-mesh-disable.yaml'), join(AMBIENT, 'both-root-empty-selector.yaml')], {
      cwd: root,
      reject: false,
    });
    expect(r.exitCode, r.stderr).to.equal(0);
    const entries = JSON.parse(r.stdout) as { scenario: string; meshMode: string; workload: string; port: number | null; mode: string; decidedBy: unknown[] }[];
    for (const e of entries) expect(Object.keys(e)).to.deep.equal(['scenario', 'meshMode', 'workload', 'port', 'mode', 'decidedBy']);
    expect(entries.map((e) => [e.scenario, e.meshMode, e.port, e.mode])).to.deep.equal([
      ['ambient-mesh-disable', 'ambient', null, 'PERMISSIVE'],
      ['ambient-mesh-disable', 'ambient', 8080, 'PERMISSIVE'],
      ['ambient-mesh-disable', 'ambient', 9090, 'PERMISSIVE'],
      ['both-root-empty-selector', 'sidecar', null, 'STRICT'],
      ['both-root-empty-selector', 'sidecar', 8080, 'STRICT'],
      ['both-root-empty-selector', 'sidecar', 9090, 'STRICT'],
      ['both-root-empty-selector', 'ambient', null, 'PERMISSIVE'],
      ['both-root-empty-selector', 'ambient', 8080, 'PERMISSIVE'],
      ['both-root-empty-selector', 'ambient', 9090, 'PERMISSIVE'],
    ]);
    expect(entries[0]?.decidedBy).to.deep.equal([{ level: 'mesh', namespace: 'istio-system', name: 'default' }]);
    expect(entries[6]?.decidedBy).to.deep.equal([]);

    const text = await execa(process.execPath, [bin, 'explain', join(AMBIENT, 'ambient-mesh-disable.yaml')], { cwd: root, reject: false });
    expect(text.stdout).to.include('ambient-mesh-disable [ambient]').and.include('note: DISABLE of istio-system/default (mesh) is treated as PERMISSIVE in ambient (R6.5)');
  });

  it('validate lints ambient and both scenarios in each mode, and prints the DISABLE warnings with their position', async () => {
    const r = await execa(process.execPath, [bin, 'validate', AMBIENT], { cwd: root, reject: false });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/ambient-mesh-disable\.yaml:16:29: warning: PeerAuthentication istio-system\/default: mtls\.mode DISABLE is not supported in ambient mode/);
    expect(r.stderr).to.not.include('lint:');

    // An ambient expectation the oracle contradicts is a lint error (exit 1), checked in the ambient pass.
    const dir = mkdtempSync(join(tmpdir(), 'mc-ambient-lint-'));
    try {
      const file = join(dir, 'ambient-namespace-strict.yaml');
      writeFileSync(file, readFileSync(join(AMBIENT, 'ambient-namespace-strict.yaml'), 'utf8').replace('mtls-tcp: deny', 'mtls-tcp: allow'));
      const bad = await execa(process.execPath, [bin, 'validate', file], { cwd: root, reject: false });
      expect(bad.exitCode).to.equal(1);
      expect(bad.stderr).to.match(
        /ambient-namespace-strict\.yaml:\d+:\d+: lint: foo\/app port 8080 \(tcp, ambient\): the author expects mtls-tcp: allow, but the oracle derives deny under mode STRICT \(R6\.3 STRICT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a data plane that implements sidecar mode only runs the sidecar half of a both scenario and skips the ambient half with the reason', async () => {
    const sidecarOnly = `exec:${process.execPath} ${join(root, 'harness/reference/sidecar.mjs')}`;
    const c = await cli([
      'run',
      join(AMBIENT, 'both-namespace-strict.yaml'),
      join(AMBIENT, 'ambient-namespace-strict.yaml'),
      '--data-plane',
      sidecarOnly,
      '--reporter',
      'console,json',
    ]);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(0);
    const r = c.report();
    const units = r.scenarios.map((s) => [s.name, s.meshMode, s.skipped === undefined ? s.summary.passed : 'skipped']);
    expect(units).to.deep.equal([
      ['both-namespace-strict', 'sidecar', 18],
      ['both-namespace-strict', 'ambient', 'skipped'],
      ['ambient-namespace-strict', 'ambient', 'skipped'],
    ]);
    for (const s of r.scenarios.filter((x) => x.skipped !== undefined)) {
      expect(s.skipped).to.include('does not implement ambient mode').and.include('--data-plane reference-ambient');
      expect(s.cells).to.deep.equal([]);
    }
    expect(r).to.not.have.property('differentials');
    expect(c.stdout).to.include('skipped: data plane exec:');
    expect(r.scenarios[1]?.skipped).to.include('--mesh-modes');
  });

  it('an exec: data plane declared with --mesh-modes ambient runs the ambient halves (the contract says mesh.mode ambient)', async () => {
    const ambientExec = `exec:${process.execPath} ${join(root, 'harness/reference-ambient/ambient-proxy.mjs')}`;
    const c = await cli(['run', join(AMBIENT, 'both-namespace-strict.yaml'), '--data-plane', ambientExec, '--mesh-modes', 'ambient', '--reporter', 'json']);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(0);
    const r = c.report();
    expect(r.scenarios.map((s) => [s.meshMode, s.skipped === undefined ? s.summary.cells === s.summary.passed : 'skipped'])).to.deep.equal([
      ['sidecar', 'skipped'],
      ['ambient', true],
    ]);
    expect(r.scenarios[1]!.summary.cells).to.be.greaterThan(0);
    const bad = await cli(['run', join(AMBIENT, 'both-namespace-strict.yaml'), '--mesh-modes', 'ambient']);
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr).to.match(/--mesh-modes declares what an exec: data plane implements/);
  });

  it('runs the whole built-in ambient suite on the default data plane (reference sidecar + reference ambient proxy): every cell passes, with the differential tables', async () => {
    const c = await cli(['run', AMBIENT, '--reporter', 'console,json']);
    expect(c.exitCode, c.stdout.slice(-4000) + c.stderr).to.equal(0);
    const r = c.report();
    expect(r.environment.dataPlane).to.equal('reference (ambient: reference-ambient)');
    expect(r.summary.cells).to.be.greaterThan(500);
    expect(r.summary).to.deep.include({ passed: r.summary.cells, failed: 0, flaky: 0, errors: 0, skipped: 0 });
    expect(r.scenarios.filter((s) => s.skipped !== undefined)).to.deep.equal([]);
    const modes = r.scenarios.map((s) => s.meshMode);
    expect(modes.filter((m) => m === 'ambient').length).to.be.at.least(12);
    expect(modes.filter((m) => m === 'sidecar').length).to.be.at.least(2);

    // Real HBONE: the allowed mesh client went through mTLS with ALPN h2 to the target workload's identity.
    const cells = r.scenarios.flatMap((s) => s.cells);
    const hbone = cells.find((x) => x.scenario === 'ambient-namespace-strict' && x.client === 'hbone' && x.port === 8080)!;
    expect(hbone.observed).to.deep.include({ status: 'allowed', path: 'mtls' });
    expect(hbone.observed?.tls).to.deep.include({ alpn: 'h2', serverIdentity: 'spiffe://cluster.local/ns/foo/sa/app', serverIdentityOk: true });
    const direct = cells.find((x) => x.scenario === 'ambient-namespace-strict' && x.client === 'mtls-tcp' && x.port === 8080)!;
    expect(direct.observed?.status).to.equal('denied');
    expect(direct.expected.rule).to.match(/^R6\.3 STRICT/);
    const mapped = cells.find((x) => x.scenario === 'ambient-mesh-disable' && x.client === 'plaintext-tcp' && x.port === 8080)!;
    expect(mapped.expected.rule).to.include('DISABLE of istio-system/default (mesh) is treated as PERMISSIVE in ambient (R6.5)');

    // Differentials: one per mode: both scenario, counts from the oracle, every expected difference observed.
    const diffs = new Map((r.differentials ?? []).map((d) => [d.scenario, d]));
    expect([...diffs.keys()].sort()).to.deep.equal(['both-namespace-disable', 'both-namespace-strict', 'both-root-empty-selector']);
    expect(diffs.get('both-namespace-strict')).to.deep.include({ compared: 18, expectedDifferences: 5, observedDifferences: 5 });
    expect(diffs.get('both-namespace-disable')).to.deep.include({ compared: 18, expectedDifferences: 8, observedDifferences: 8 });
    expect(diffs.get('both-root-empty-selector')).to.deep.include({ compared: 18, expectedDifferences: 18, observedDifferences: 18 });
    expect(c.stdout).to.include('Sidecar vs ambient (mode: both)').and.include('foo/app:8080 mtls-tcp: sidecar allow (STRICT, R5.3) | ambient deny (STRICT, R6.3)');
  });

  it('--data-plane reference-ambient runs the ambient halves and skips the sidecar halves, naming --data-plane reference', async () => {
    const c = await cli(['run', join(AMBIENT, 'both-namespace-disable.yaml'), '--data-plane', 'reference-ambient', '--reporter', 'json']);
    expect(c.exitCode, c.stdout + c.stderr).to.equal(0);
    const r = c.report();
    expect(r.scenarios.map((s) => [s.meshMode, s.skipped === undefined ? s.summary.passed : 'skipped'])).to.deep.equal([
      ['sidecar', 'skipped'],
      ['ambient', 30],
    ]);
    expect(r.scenarios[0]?.skipped).to.include('does not implement sidecar mode').and.include('--data-plane reference');
    expect(r).to.not.have.property('differentials');
  });
});
