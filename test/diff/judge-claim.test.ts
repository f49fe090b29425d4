// judgeCell under --claim spec and --claim istio: the accepted set, the "differs from Istio" note, and evidence checked
// against the outcome actually seen.
import { expect } from 'chai';
import { judgeCell, summarize } from '../../src/diff/index.js';
import { denied, expectation, mtlsAllowed, plaintextAllowed, passthroughAllowed } from './fixtures.js';

// raw TCP into a PERMISSIVE HTTP port: Istio's Envoy answers 400, PeerAuthentication allows relaying it.
const rawTcpIntoHttp = expectation({
  client: 'plaintext-tcp',
  protocol: 'http',
  mode: 'PERMISSIVE',
  outcome: 'deny',
  rule: 'R5.4 PERMISSIVE: raw TCP bytes to a declared HTTP port are a protocol error',
  required: ['deny', 'allow'],
  requiredRule: 'R5.4/R5.5 PERMISSIVE: plaintext is accepted; raw TCP bytes may be relayed',
});
// TLS into a DISABLE HTTP port: {deny, passthrough}, never a termination.
const tlsIntoDisabledHttp = expectation({
  client: 'mtls-http',
  protocol: 'http',
  mode: 'DISABLE',
  outcome: 'deny',
  rule: 'R5.5 DISABLE: TLS to a declared HTTP port is a protocol error',
  required: ['deny', 'passthrough'],
  requiredRule: 'R5.5 DISABLE: TLS is never terminated',
});
// valid mTLS with non-HTTP bytes into a STRICT HTTP port: {allow, deny}; an allow must still be terminated mTLS.
const mtlsTcpIntoStrictHttp = expectation({
  client: 'mtls-tcp',
  protocol: 'http',
  mode: 'STRICT',
  outcome: 'deny',
  rule: 'R5.3 STRICT: mTLS is terminated, then raw TCP bytes on a declared HTTP port are a protocol error',
  required: ['allow', 'deny'],
  requiredRule: 'R5.3 STRICT: valid mesh mTLS is accepted',
});
const appAnswered = plaintextAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' } });

describe('diff: judgeCell under a claim', function () {
  it('spec (the default): an outcome of the required set passes, says Istio answers otherwise, and is flagged', function () {
    for (const c of [judgeCell(rawTcpIntoHttp, [appAnswered], { feature: 'f' }), judgeCell(rawTcpIntoHttp, [appAnswered], { feature: 'f', claim: 'spec' })]) {
      expect(c.verdict).to.equal('pass');
      expect(c.differsFromIstio).to.equal(true);
      expect(c.reason).to.contain('allow: conformant').and.contain("Istio's Envoy answers deny here");
      expect(c.expected).to.include({ outcome: 'deny' });
      expect(c.expected.required).to.deep.equal(['deny', 'allow']);
    }
  });

  it("spec: Istio's own outcome passes without the flag", function () {
    const c = judgeCell(rawTcpIntoHttp, [denied({ how: 'protocol-error', detail: 'HTTP/1.1 400' })], { feature: 'f', claim: 'spec' });
    expect(c.verdict).to.equal('pass');
    expect(c.differsFromIstio).to.equal(undefined);
    expect(c.reason).to.match(/^deny as expected/);
  });

  it('istio: only the reference outcome passes', function () {
    const c = judgeCell(rawTcpIntoHttp, [appAnswered], { feature: 'f', claim: 'istio' });
    expect(c.verdict).to.equal('fail');
    expect(c.differsFromIstio).to.equal(undefined);
    expect(c.reason).to.match(/^expected deny \(PERMISSIVE, R5\.4 PERMISSIVE: raw TCP/);
  });

  it('spec: an outcome outside the set fails, naming the whole set and its rule', function () {
    const c = judgeCell(tlsIntoDisabledHttp, [mtlsAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'http' } })], {
      feature: 'f',
      claim: 'spec',
    });
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.match(/^expected deny or passthrough \(DISABLE, R5\.5 DISABLE: TLS is never terminated\)/);
  });

  it('spec: a passthrough in the set must still deliver the TLS bytes to the application', function () {
    const ok = judgeCell(tlsIntoDisabledHttp, [passthroughAllowed()], { feature: 'f', claim: 'spec' });
    expect(ok.verdict).to.equal('pass');
    expect(ok.differsFromIstio).to.equal(true);
    const bad = judgeCell(tlsIntoDisabledHttp, [passthroughAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'http' } })], {
      feature: 'f',
      claim: 'spec',
    });
    expect(bad.verdict).to.equal('fail');
    expect(bad.reason).to.contain("received plaintext, not the client's TLS bytes");
  });

  it("spec: an allow in the set must still be mTLS terminated with the target workload's identity", function () {
    const ok = judgeCell(mtlsTcpIntoStrictHttp, [mtlsAllowed()], { feature: 'f', claim: 'spec' });
    expect(ok.verdict).to.equal('pass');
    const wrongId = mtlsAllowed({
      tls: { version: 'TLSv1.3', alpn: null, serverIdentity: 'spiffe://cluster.local/ns/foo/sa/other', serverIssuer: 'mesh', serverIdentityOk: false },
    });
    const bad = judgeCell(mtlsTcpIntoStrictHttp, [wrongId], { feature: 'f', claim: 'spec' });
    expect(bad.verdict).to.equal('fail');
    expect(bad.reason).to.contain('spiffe://cluster.local/ns/foo/sa/other');
    const relayedUnterminated = judgeCell(mtlsTcpIntoStrictHttp, [passthroughAllowed()], { feature: 'f', claim: 'spec' });
    expect(relayedUnterminated.verdict).to.equal('fail');
  });

  it('summaries count the passes that differ from Istio apart', function () {
    const cells = [
      judgeCell(rawTcpIntoHttp, [appAnswered], { feature: 'f', claim: 'spec' }),
      judgeCell(tlsIntoDisabledHttp, [passthroughAllowed()], { feature: 'f', claim: 'spec' }),
      // Envoy's 400 comes after it terminated the mTLS with the workload's identity (the denial carries that TLS evidence).
      judgeCell(mtlsTcpIntoStrictHttp, [denied({ how: 'protocol-error', detail: '400', tls: mtlsAllowed().tls })], { feature: 'f', claim: 'spec' }),
    ];
    expect(summarize(cells)).to.deep.equal({ cells: 3, passed: 3, failed: 0, flaky: 0, errors: 0, skipped: 0, differsFromIstio: 2 });
    expect(summarize([cells[2]!])).to.not.have.property('differsFromIstio');
  });
});
