// Sidecar versus ambient, cell by cell, for `mode: both` scenarios: expectations from the real oracle, observations
// synthesised per cell, the table through the run-result schema and the console reporter.
import { expect } from 'chai';
import type { CellResult, Expectation, Observation, RunResult, ScenarioResult } from '../../src/model/index.js';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';
import { expectations } from '../../src/oracle/index.js';
import { judgeCell, modeDifferential, modeDifferentials, skippedCell, summarize } from '../../src/diff/index.js';
import { renderConsoleReport, validateRunResult } from '../../src/report/index.js';
import { pa, scenario, workload } from '../oracle/helpers.js';
import { denied, mtlsAllowed, passthroughAllowed, plaintextAllowed } from './fixtures.js';

const app = workload('foo', 'app', { app: 'a' }, [8080, { port: 9090, protocol: 'http' }]);
const both = scenario({
  name: 'diff',
  mode: 'both',
  workloads: [app],
  policies: [pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })],
});

/** The observation a conforming data plane gives for the expectation, with echo evidence of the right workload. */
function conforming(e: Expectation): Observation {
  const echo = { workload: e.workload, port: e.port, received: 'plaintext' as const, protocol: 'tcp' as const };
  if (e.outcome === 'deny') return denied();
  if (e.outcome === 'passthrough') return passthroughAllowed({ echo: { ...echo, received: 'tls' } });
  return e.client.startsWith('plaintext-') ? plaintextAllowed({ echo }) : mtlsAllowed({ echo, tls: { ...mtlsAllowed().tls!, serverIdentityOk: true } });
}

function result(meshMode: 'sidecar' | 'ambient', observe: (e: Expectation) => Observation | 'skip' = conforming): ScenarioResult {
  const cells: CellResult[] = expectations(both, meshMode).map((e) => {
    const o = observe(e);
    return o === 'skip' ? skippedCell(e, 'cannot express', 'f') : judgeCell(e, [o], { feature: 'f' });
  });
  return { name: both.name, file: 'diff.yaml', feature: 'f', meshMode, description: '', summary: summarize(cells), lint: [], warnings: [], durationMs: 1, cells, policies: [] };
}

describe('diff: sidecar versus ambient (mode: both)', () => {
  it('compares the direct client kinds at every port and keeps the cells whose expected outcomes differ, with both rules', () => {
    const d = modeDifferential(result('sidecar'), result('ambient'));
    expect(d).to.deep.include({ scenario: 'diff', file: 'diff.yaml', compared: 2 * DIRECT_CLIENT_KINDS.length, observedDifferences: 2 });
    const rows = d.differences.map((x) => [x.port, x.client, x.sidecar.expected, x.ambient.expected]);
    // 8080: sidecar DISABLE vs ambient PERMISSIVE (R6.5) behave alike for direct clients: plaintext allowed, every TLS
    // client passed through. 9090 (http, STRICT): sidecar terminates mesh mTLS; ambient denies every direct client.
    // A data plane that conforms in both modes shows both differences when observed too.
    expect(rows).to.deep.equal([
      [9090, 'mtls-http', 'allow', 'deny'],
      [9090, 'tls-no-istio-alpn', 'allow', 'deny'],
    ]);
    expect(d.expectedDifferences).to.equal(2);
    const first = d.differences[0]!;
    expect(first).to.deep.include({ workload: 'foo/app', protocol: 'http', expectedDiffers: true, observedDiffers: true });
    expect(first.sidecar).to.deep.include({ key: 'diff|sidecar|foo/app|9090|mtls-http', mode: 'STRICT', observed: 'allow', verdict: 'pass' });
    expect(first.sidecar.rule).to.match(/^R5\.3 STRICT/);
    expect(first.ambient).to.deep.include({ key: 'diff|ambient|foo/app|9090|mtls-http', mode: 'STRICT', observed: 'deny', verdict: 'pass' });
    expect(first.ambient.rule).to.match(/^R6\.3 STRICT/);
  });

  it('lists an observed difference where the oracle expects the same outcome in both modes', () => {
    // Ambient data plane fails open on 9090 plaintext (expected deny in both modes).
    const ambient = result('ambient', (e) =>
      e.port === 9090 && e.client === 'plaintext-http' ? plaintextAllowed({ echo: { workload: e.workload, port: 9090, received: 'plaintext', protocol: 'http' } }) : conforming(e),
    );
    const d = modeDifferential(result('sidecar'), ambient);
    const row = d.differences.find((x) => x.client === 'plaintext-http' && x.port === 9090);
    expect(row).to.deep.include({ expectedDiffers: false, observedDiffers: true });
    expect(row?.sidecar).to.deep.include({ expected: 'deny', observed: 'deny' });
    expect(row?.ambient).to.deep.include({ expected: 'deny', observed: 'allow', verdict: 'fail' });
    expect(d.observedDifferences).to.equal(3); // the two expected differences were observed too
  });

  it('a skipped cell has no observation and never counts as an observed difference', () => {
    const ambient = result('ambient', (e) => (e.port === 9090 && e.client === 'mtls-http' ? 'skip' : conforming(e)));
    const d = modeDifferential(result('sidecar'), ambient);
    const row = d.differences.find((x) => x.client === 'mtls-http' && x.port === 9090);
    expect(row).to.deep.include({ expectedDiffers: true, observedDiffers: false });
    expect(row?.ambient).to.not.have.property('observed');
    expect(row?.ambient.verdict).to.equal('skipped');
  });

  it('modeDifferentials pairs results by scenario name, and leaves out a scenario with a half that did not run', () => {
    const skippedHalf: ScenarioResult = { ...result('ambient'), name: 'other', cells: [], skipped: 'no ambient data plane' };
    const out = modeDifferentials([result('sidecar'), { ...result('sidecar'), name: 'other' }, result('ambient'), skippedHalf]);
    expect(out.map((d) => d.scenario)).to.deep.equal(['diff']);
  });

  it('travels in report.json (schema-valid) and the console prints it compactly with both rule citations', () => {
    const sidecar = result('sidecar');
    const ambient = result('ambient');
    const cells = [...sidecar.cells, ...ambient.cells];
    const run: RunResult = {
      apiVersion: 'meshconform.dev/v1alpha1',
      kind: 'RunResult',
      runId: 'r',
      claim: 'spec',
      startedAt: '2026-11-27T17:41:00.000Z',
      finishedAt: '2026-11-27T17:41:02.500Z',
      durationMs: 2500,
      harness: { name: 'meshconform', version: '0.1.0' },
      environment: { backend: 'local', dataPlane: 'reference', node: 'v20', platform: 'linux-x64' },
      options: { retries: 0, concurrency: 1, timeoutMs: 1000, paths: [] },
      summary: summarize(cells),
      lintErrors: 0,
      scenarios: [sidecar, ambient],
      differentials: modeDifferentials([sidecar, ambient]),
    };
    const v = validateRunResult(JSON.parse(JSON.stringify(run)));
    expect(v.valid, v.valid ? '' : v.errors.join('\n')).to.equal(true);
    const broken = JSON.parse(JSON.stringify(run));
    broken.differentials[0].differences[0].sidecar.expected = 'maybe';
    expect(validateRunResult(broken).valid).to.equal(false);

    const text = renderConsoleReport(run, 'out', { fancy: false, tables: 'none' });
    expect(text).to.include('Sidecar vs ambient (mode: both)');
    expect(text).to.include(`diff: ${2 * DIRECT_CLIENT_KINDS.length} cells in both modes; expected to differ: 2, observed to differ: 2`);
    expect(text).to.include('foo/app:9090 mtls-http: sidecar allow (STRICT, R5.3) | ambient deny (STRICT, R6.3)');
  });
});
