import { expect } from 'chai';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';
import { cellKey, expectations, explain, lintExpectations, workloadKey } from '../../src/oracle/index.js';
import { expectEntry, pa, scenario, workload } from './helpers.js';

const finance = workload('foo', 'finance', { app: 'finance' }, [8080, { port: 9090, protocol: 'http' }]);
const web = workload('bar', 'web', { app: 'web' }, [8000]);
const policies = [
  pa('istio-system', 'mesh', { mtls: { mode: 'PERMISSIVE' } }),
  pa('foo', 'finance-strict', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } }),
];

describe('oracle: cellKey and workloadKey', () => {
  it('formats stable keys', () => {
    expect(workloadKey(finance)).to.equal('foo/finance');
    expect(cellKey('s', 'sidecar', 'foo/finance', 8080, 'mtls-tcp')).to.equal('s|sidecar|foo/finance|8080|mtls-tcp');
  });
});

describe('oracle: expectations', () => {
  const s = scenario({ name: 'exp', workloads: [finance, web], policies });
  const cells = expectations(s, 'sidecar');

  it('has one cell per workload × declared port × client kind, in that order, with unique keys', () => {
    expect(cells).to.have.length(3 * DIRECT_CLIENT_KINDS.length);
    expect(new Set(cells.map((c) => c.key)).size).to.equal(cells.length);
    expect(cells.slice(0, DIRECT_CLIENT_KINDS.length).map((c) => c.client)).to.deep.equal([...DIRECT_CLIENT_KINDS]);
    expect(cells.map((c) => `${c.workload}:${c.port}`).filter((v, i, a) => a.indexOf(v) === i)).to.deep.equal(['foo/finance:8080', 'foo/finance:9090', 'bar/web:8000']);
  });

  it('fills every cell from the effective mode, the port protocol and the outcome table', () => {
    const cell = (w: string, port: number, client: (typeof DIRECT_CLIENT_KINDS)[number]) => cells.find((c) => c.key === cellKey('exp', 'sidecar', w, port, client));
    expect(cell('foo/finance', 8080, 'mtls-tcp')).to.deep.include({ mode: 'DISABLE', protocol: 'tcp', outcome: 'passthrough', scenario: 'exp', meshMode: 'sidecar' });
    expect(cell('foo/finance', 9090, 'plaintext-http')).to.deep.include({ mode: 'STRICT', protocol: 'http', outcome: 'deny' });
    expect(cell('foo/finance', 9090, 'plaintext-http')?.rule).to.match(/^R5\.3 STRICT/);
    expect(cell('foo/finance', 8080, 'plaintext-tcp')?.decidedBy.map((d) => d.level)).to.deep.equal(['mesh', 'workload', 'port']);
    expect(cell('bar/web', 8000, 'tls-no-client-cert')).to.deep.include({ mode: 'PERMISSIVE', outcome: 'passthrough' });
    expect(cell('bar/web', 8000, 'tls-no-client-cert')?.decidedBy).to.deep.equal([{ level: 'mesh', namespace: 'istio-system', name: 'mesh' }]);
  });
});

describe('oracle: lintExpectations', () => {
  const lint = (...expect_: ReturnType<typeof expectEntry>[]) => lintExpectations(scenario({ name: 'lint', workloads: [finance, web], policies, expect: expect_ }), 'sidecar');

  it('accepts expectations that agree with the oracle, shorthands included', () => {
    expect(
      lint(
        expectEntry('foo/finance', { mode: 'STRICT' }),
        expectEntry('foo/finance', { port: 8080, mode: 'DISABLE', outcomes: { plaintext: 'allow', mtls: 'passthrough', 'tls-no-istio-alpn': 'passthrough' } }),
        expectEntry('foo/finance', { port: 9090, outcomes: { plaintext: 'deny', mtls: 'allow', 'plaintext-tcp': 'deny' } }),
        expectEntry('bar/web', { mode: 'PERMISSIVE', outcomes: { plaintext: 'allow', mtls: 'allow', 'mtls-expired': 'deny' } }),
      ),
    ).to.deep.equal([]);
  });

  it('reports a wrong mode with what was expected, what is derived, the deciding policies and the position', () => {
    const findings = lint(expectEntry('foo/finance', { port: 8080, mode: 'STRICT' }, 42));
    expect(findings).to.have.length(1);
    expect(findings[0]).to.deep.include({ scenario: 'lint', file: 'test.yaml', line: 42, column: 7 });
    expect(findings[0]?.message).to.include('expects mode STRICT').and.include('derives DISABLE');
    expect(findings[0]?.message).to.include('istio-system/mesh').and.include('foo/finance-strict');
  });

  it('checks the workload-level mode when the entry has no port', () => {
    const [f] = lint(expectEntry('foo/finance', { mode: 'PERMISSIVE' }));
    expect(f?.message).to.match(/foo\/finance \(workload level\).*expects mode PERMISSIVE.*derives STRICT/);
  });

  it('maps plaintext/mtls to the port protocol and applies a portless outcome to every port', () => {
    // plaintext: allow is right on 8080 (DISABLE, tcp) but wrong on 9090 (STRICT, http): one finding, for 9090.
    const findings = lint(expectEntry('foo/finance', { outcomes: { plaintext: 'allow' } }));
    expect(findings).to.have.length(1);
    expect(findings[0]?.message).to.include('port 9090 (http, sidecar)').and.include('plaintext (plaintext-http): allow').and.include('derives deny');
    expect(findings[0]?.message).to.include('R5.3 STRICT');
    // mtls on an http port means mtls-http, which STRICT allows; mtls-tcp written out is denied there.
    expect(lint(expectEntry('foo/finance', { port: 9090, outcomes: { mtls: 'allow' } }))).to.deep.equal([]);
    expect(lint(expectEntry('foo/finance', { port: 9090, outcomes: { 'mtls-tcp': 'allow' } }))).to.have.length(1);
  });

  it('says when no policy applies', () => {
    const findings = lintExpectations(scenario({ workloads: [web], expect: [expectEntry('bar/web', { mode: 'STRICT' })] }), 'sidecar');
    expect(findings[0]?.message).to.include('no policy applies (hard default PERMISSIVE)');
  });

  it('reports unknown workloads, ports and client kinds instead of ignoring them', () => {
    const findings = lint(
      expectEntry('foo/nope', { mode: 'STRICT' }),
      expectEntry('foo/finance', { port: 1234, mode: 'STRICT' }),
      expectEntry('bar/web', { outcomes: { 'carrier-pigeon': 'allow' } }),
    );
    expect(findings.map((f) => f.message)).to.have.length(3);
    expect(findings[0]?.message).to.include('foo/nope');
    expect(findings[1]?.message).to.include('port 1234').and.include('8080, 9090');
    expect(findings[2]?.message).to.include('carrier-pigeon');
  });
});

describe('oracle: explain', () => {
  it('gives the exact JSON shape in scenario, mesh mode, workload, port order; a both scenario in each mode', () => {
    const a = scenario({ name: 'a', workloads: [finance], policies });
    const b = scenario({ name: 'b', mode: 'both', workloads: [web] });
    const entries = explain([a, b]);
    expect(JSON.parse(JSON.stringify(entries))).to.deep.equal([
      {
        scenario: 'a',
        meshMode: 'sidecar',
        workload: 'foo/finance',
        port: null,
        mode: 'STRICT',
        decidedBy: [
          { level: 'mesh', namespace: 'istio-system', name: 'mesh' },
          { level: 'workload', namespace: 'foo', name: 'finance-strict' },
        ],
      },
      {
        scenario: 'a',
        meshMode: 'sidecar',
        workload: 'foo/finance',
        port: 8080,
        mode: 'DISABLE',
        decidedBy: [
          { level: 'mesh', namespace: 'istio-system', name: 'mesh' },
          { level: 'workload', namespace: 'foo', name: 'finance-strict' },
          { level: 'port', namespace: 'foo', name: 'finance-strict' },
        ],
      },
      {
        scenario: 'a',
        meshMode: 'sidecar',
        workload: 'foo/finance',
        port: 9090,
        mode: 'STRICT',
        decidedBy: [
          { level: 'mesh', namespace: 'istio-system', name: 'mesh' },
          { level: 'workload', namespace: 'foo', name: 'finance-strict' },
        ],
      },
      { scenario: 'b', meshMode: 'sidecar', workload: 'bar/web', port: null, mode: 'PERMISSIVE', decidedBy: [] },
      { scenario: 'b', meshMode: 'sidecar', workload: 'bar/web', port: 8000, mode: 'PERMISSIVE', decidedBy: [] },
      { scenario: 'b', meshMode: 'ambient', workload: 'bar/web', port: null, mode: 'PERMISSIVE', decidedBy: [] },
      { scenario: 'b', meshMode: 'ambient', workload: 'bar/web', port: 8000, mode: 'PERMISSIVE', decidedBy: [] },
    ]);
    for (const e of entries) expect(Object.keys(e)).to.deep.equal(['scenario', 'meshMode', 'workload', 'port', 'mode', 'decidedBy']);
  });
});
