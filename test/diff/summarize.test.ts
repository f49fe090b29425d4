import { expect } from 'chai';
import type { CellResult, ClientKind } from '../../src/model/index.js';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';
import { errorCell, judgeCell, skippedCell, summarize, summarizeBy, truthTable } from '../../src/diff/index.js';
import { denied, expectation, mtlsAllowed, plaintextAllowed, probeError } from './fixtures.js';

function cell(
  verdict: CellResult['verdict'],
  over: { client?: ClientKind; workload?: string; port?: number; feature?: string; scenario?: string; meshMode?: 'sidecar' | 'ambient' } = {},
): CellResult {
  const workload = over.workload ?? 'foo/finance';
  const port = over.port ?? 8080;
  const exp = expectation({
    client: over.client ?? 'mtls-tcp',
    workload,
    port,
    ...(over.scenario ? { scenario: over.scenario } : {}),
    ...(over.meshMode ? { meshMode: over.meshMode } : {}),
  });
  const echo = { workload, port, received: 'plaintext' as const, protocol: 'tcp' as const };
  const ctx = { feature: over.feature ?? 'core' };
  const allowed = exp.client.startsWith('plaintext-') ? plaintextAllowed({ echo }) : mtlsAllowed({ echo });
  switch (verdict) {
    case 'pass':
      return judgeCell(exp, [allowed], ctx);
    case 'fail':
      return judgeCell(exp, [denied()], ctx);
    case 'flaky':
      return judgeCell(exp, [denied(), allowed], ctx);
    case 'error':
      return judgeCell(exp, [probeError()], ctx);
    case 'skipped':
      return skippedCell(exp, 'no capability', ctx.feature);
  }
}

describe('diff: summaries', () => {
  it('counts each verdict', () => {
    const cells = [cell('pass'), cell('pass'), cell('fail'), cell('flaky'), cell('error'), cell('skipped'), cell('skipped')];
    expect(summarize(cells)).to.deep.equal({ cells: 7, passed: 2, failed: 1, flaky: 1, errors: 1, skipped: 2 });
    expect(summarize([])).to.deep.equal({ cells: 0, passed: 0, failed: 0, flaky: 0, errors: 0, skipped: 0 });
  });

  it('counts cells of a scenario that could not run as errors, never as passes', () => {
    const cells = [errorCell(expectation({ outcome: 'deny' }), 'environment failed', 'core')];
    expect(summarize(cells)).to.include({ errors: 1, passed: 0 });
  });

  it('groups by feature and scenario with sorted keys', () => {
    const cells = [cell('pass', { feature: 'port-level', scenario: 'b' }), cell('fail', { feature: 'core', scenario: 'a' }), cell('pass', { feature: 'core', scenario: 'c' })];
    const byFeature = summarizeBy(cells, 'feature');
    expect(Object.keys(byFeature)).to.deep.equal(['core', 'port-level']);
    expect(byFeature['core']).to.deep.equal({ cells: 2, passed: 1, failed: 1, flaky: 0, errors: 0, skipped: 0 });
    expect(Object.keys(summarizeBy(cells, 'scenario'))).to.deep.equal(['a', 'b', 'c']);
  });

  it('groups by client in DIRECT_CLIENT_KINDS order, not alphabetically', () => {
    const cells = [
      cell('pass', { client: 'tls-no-istio-alpn' }),
      cell('pass', { client: 'mtls-tcp' }),
      cell('fail', { client: 'plaintext-tcp' }),
      cell('pass', { client: 'mtls-expired' }),
    ];
    expect(Object.keys(summarizeBy(cells, 'client'))).to.deep.equal(['plaintext-tcp', 'mtls-tcp', 'mtls-expired', 'tls-no-istio-alpn']);
  });

  it('groups by workload', () => {
    const cells = [cell('pass', { workload: 'foo/web' }), cell('error', { workload: 'bar/db' }), cell('pass', { workload: 'foo/web' })];
    const by = summarizeBy(cells, 'workload');
    expect(Object.keys(by)).to.deep.equal(['bar/db', 'foo/web']);
    expect(by['foo/web']!.passed).to.equal(2);
    expect(by['bar/db']!.errors).to.equal(1);
  });
});

describe('diff: truthTable', () => {
  it('has every client kind as a column in DIRECT_CLIENT_KINDS order and rows sorted by workload then port number', () => {
    const cells = [
      cell('pass', { workload: 'foo/web', port: 80, client: 'tls-no-istio-alpn' }),
      cell('fail', { workload: 'foo/finance', port: 9090, client: 'mtls-tcp' }),
      cell('pass', { workload: 'foo/finance', port: 8080, client: 'plaintext-tcp' }),
      cell('error', { workload: 'foo/finance', port: 10000, client: 'mtls-tcp' }),
      cell('pass', { workload: 'foo/finance', port: 8080, client: 'mtls-tcp' }),
    ];
    const t = truthTable(cells);
    expect(t.columns).to.deep.equal([...DIRECT_CLIENT_KINDS]);
    expect(t.rows.map((r) => `${r.workload}:${r.port}`)).to.deep.equal(['foo/finance:8080', 'foo/finance:9090', 'foo/finance:10000', 'foo/web:80']);
    const row = t.rows[0]!;
    expect(row.mode).to.equal('STRICT');
    expect(row.cells).to.have.length(DIRECT_CLIENT_KINDS.length);
    expect(row.cells[DIRECT_CLIENT_KINDS.indexOf('plaintext-tcp')]).to.include({ verdict: 'pass', expected: 'allow', observed: 'allow' });
    expect(row.cells[DIRECT_CLIENT_KINDS.indexOf('mtls-tcp')]).to.include({ verdict: 'pass', expected: 'allow', observed: 'allow' });
    expect(row.cells[DIRECT_CLIENT_KINDS.indexOf('mtls-http')]).to.equal(null);
    const fail = t.rows[1]!.cells[DIRECT_CLIENT_KINDS.indexOf('mtls-tcp')]!;
    expect(fail).to.include({ verdict: 'fail', expected: 'allow', observed: 'deny' });
    const err = t.rows[2]!.cells[DIRECT_CLIENT_KINDS.indexOf('mtls-tcp')]!;
    expect(err.verdict).to.equal('error');
    expect(err).to.not.have.property('observed');
  });

  it('does not depend on the input order', () => {
    const cells = DIRECT_CLIENT_KINDS.flatMap((client) => [8080, 80, 443].map((port) => cell('pass', { client, port, workload: 'foo/finance' })));
    const a = truthTable(cells);
    const b = truthTable([...cells].reverse());
    expect(a).to.deep.equal(b);
    expect(a.rows.map((r) => r.port)).to.deep.equal([80, 443, 8080]);
    expect(a.rows.every((r) => r.cells.every((c) => c !== null))).to.equal(true);
  });

  it('keeps the rows of different mesh modes apart', () => {
    const t = truthTable([cell('pass', { meshMode: 'sidecar' }), cell('fail', { meshMode: 'ambient' })]);
    expect(t.rows.map((r) => r.meshMode)).to.deep.equal(['ambient', 'sidecar']);
  });
});
