import { expect } from 'chai';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';
import type { DirectClientKind, ExpectedOutcome, MtlsMode, PortProtocol } from '../../src/model/index.js';
import { expectedOutcome } from '../../src/oracle/index.js';

const MODES: readonly MtlsMode[] = ['DISABLE', 'PERMISSIVE', 'STRICT'];

/** Istio's reference outcome table of docs/outcomes.md, transcribed independently: [DISABLE, PERMISSIVE, STRICT]. */
const TABLE: Record<PortProtocol, Record<DirectClientKind, [ExpectedOutcome, ExpectedOutcome, ExpectedOutcome]>> = {
  tcp: {
    'plaintext-tcp': ['allow', 'allow', 'deny'],
    'plaintext-http': ['allow', 'allow', 'deny'],
    'mtls-tcp': ['passthrough', 'allow', 'allow'],
    'mtls-http': ['passthrough', 'allow', 'allow'],
    'tls-no-client-cert': ['passthrough', 'passthrough', 'deny'],
    'mtls-foreign-ca': ['passthrough', 'deny', 'deny'],
    'mtls-expired': ['passthrough', 'deny', 'deny'],
    'mtls-other-trust-domain': ['passthrough', 'deny', 'deny'],
    'tls-no-istio-alpn': ['passthrough', 'passthrough', 'allow'],
  },
  http: {
    'plaintext-tcp': ['deny', 'deny', 'deny'],
    'plaintext-http': ['allow', 'allow', 'deny'],
    'mtls-tcp': ['deny', 'deny', 'deny'],
    'mtls-http': ['deny', 'allow', 'allow'],
    'tls-no-client-cert': ['deny', 'deny', 'deny'],
    'mtls-foreign-ca': ['deny', 'deny', 'deny'],
    'mtls-expired': ['deny', 'deny', 'deny'],
    'mtls-other-trust-domain': ['deny', 'deny', 'deny'],
    'tls-no-istio-alpn': ['deny', 'deny', 'allow'],
  },
};

describe('oracle: expectedOutcome (sidecar outcome table)', () => {
  let cells = 0;
  for (const protocol of ['tcp', 'http'] as const) {
    for (const client of DIRECT_CLIENT_KINDS) {
      MODES.forEach((mode, i) => {
        cells++;
        const want = TABLE[protocol][client][i];
        it(`${protocol} port, ${mode}, ${client} → ${want}`, () => {
          const got = expectedOutcome(mode, protocol, client);
          expect(got.outcome).to.equal(want);
          // The rule cites the spec section of the mode that decided it.
          const section = { DISABLE: 'R5.5', PERMISSIVE: /R5\.[34]/, STRICT: 'R5.3' }[mode];
          if (typeof section === 'string') expect(got.rule).to.include(section);
          else expect(got.rule).to.match(section);
          expect(got.rule).to.include(mode);
        });
      });
    }
  }

  it('has exactly 54 cells (2 protocols × 9 clients × 3 modes)', () => {
    expect(cells).to.equal(54);
  });

  it('cites the specific reason for the odd cells', () => {
    expect(expectedOutcome('STRICT', 'tcp', 'plaintext-tcp').rule).to.equal('R5.3 STRICT: plaintext matches no filter chain and is closed');
    expect(expectedOutcome('PERMISSIVE', 'http', 'plaintext-tcp').rule).to.match(/protocol error/);
    expect(expectedOutcome('PERMISSIVE', 'http', 'mtls-tcp').rule).to.match(/every Istio ALPN \(allIstioMtlsALPNs\).*terminated.*protocol error/);
    expect(expectedOutcome('STRICT', 'http', 'tls-no-istio-alpn').rule).to.match(/ALPN is not checked/);
    expect(expectedOutcome('DISABLE', 'tcp', 'mtls-expired').rule).to.match(/pass(es)? through/);
  });
});
