// The required set (what PeerAuthentication requires) beside Istio's reference outcome, for every cell class:
// sidecar TCP and HTTP ports, ambient, every client kind and mode (docs/outcomes.md).
import { expect } from 'chai';
import { CLIENT_KINDS, DIRECT_CLIENT_KINDS, acceptedOutcomes } from '../../src/model/index.js';
import type { ClientKind, ExpectedOutcome, MeshMode, MtlsMode, PortProtocol } from '../../src/model/index.js';
import { outcomeFor, requiredOutcomes } from '../../src/oracle/index.js';

const MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];
const BAD_IDENTITY: readonly ClientKind[] = ['plaintext-tcp', 'plaintext-http', 'tls-no-client-cert', 'mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain'];

interface Cell {
  meshMode: MeshMode;
  mode: MtlsMode;
  protocol: PortProtocol;
  client: ClientKind;
  reference: ExpectedOutcome;
  required: readonly ExpectedOutcome[];
  rule: string;
  denyOnlyAfterTermination: boolean;
}

function everyCell(): Cell[] {
  const out: Cell[] = [];
  for (const meshMode of ['sidecar', 'ambient'] as const) {
    for (const protocol of ['tcp', 'http'] as const) {
      for (const client of meshMode === 'ambient' ? CLIENT_KINDS : DIRECT_CLIENT_KINDS) {
        for (const mode of MODES) {
          const ref = outcomeFor(meshMode, mode, protocol, client)!;
          const req = requiredOutcomes(meshMode, mode, protocol, client, ref);
          out.push({
            meshMode,
            mode,
            protocol,
            client,
            reference: ref.outcome,
            required: req.required,
            rule: req.rule,
            denyOnlyAfterTermination: req.denyOnlyAfterTermination === true,
          });
        }
      }
    }
  }
  return out;
}

const name = (c: Cell) => `${c.meshMode} ${c.protocol} ${c.mode} ${c.client}`;

/** The cells whose required set is larger than Istio's outcome, written out by hand: [client, mode] → set. */
const SIDECAR_HTTP_SETS: Readonly<Record<string, readonly ExpectedOutcome[]>> = {
  'plaintext-tcp PERMISSIVE': ['deny', 'allow'],
  'plaintext-tcp DISABLE': ['deny', 'allow'],
  'mtls-tcp STRICT': ['allow', 'deny'],
  'mtls-tcp PERMISSIVE': ['allow', 'deny'],
  'tls-no-client-cert PERMISSIVE': ['deny', 'passthrough'],
  'tls-no-istio-alpn PERMISSIVE': ['deny', 'passthrough'],
  ...Object.fromEntries(
    (['mtls-tcp', 'mtls-http', 'tls-no-client-cert', 'mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain', 'tls-no-istio-alpn'] as const).map((c) => [
      `${c} DISABLE`,
      ['deny', 'passthrough'],
    ]),
  ),
};

describe('oracle: required outcomes vs Istio reference', function () {
  const cells = everyCell();

  it('a deny counts only after termination exactly for mtls-tcp into a STRICT or PERMISSIVE sidecar HTTP port', function () {
    for (const c of cells) {
      const expected = c.meshMode === 'sidecar' && c.protocol === 'http' && c.client === 'mtls-tcp' && c.mode !== 'DISABLE';
      expect(c.denyOnlyAfterTermination, name(c)).to.equal(expected);
    }
  });

  it("every required set holds Istio's reference outcome, has no duplicates and a rule", function () {
    for (const c of cells) {
      expect(c.required, name(c)).to.include(c.reference);
      expect(new Set(c.required).size, name(c)).to.equal(c.required.length);
      expect(c.rule, name(c)).to.match(/^R\d/);
    }
  });

  it('sets appear only on sidecar HTTP-declared ports, exactly in the cells of the table', function () {
    for (const c of cells) {
      const key = `${c.client} ${c.mode}`;
      if (c.meshMode === 'sidecar' && c.protocol === 'http' && key in SIDECAR_HTTP_SETS) {
        expect([...c.required].sort(), name(c)).to.deep.equal([...SIDECAR_HTTP_SETS[key]!].sort());
        expect(c.rule, name(c)).to.not.equal(outcomeFor(c.meshMode, c.mode, c.protocol, c.client)!.rule);
      } else {
        expect(c.required, name(c)).to.deep.equal([c.reference]);
      }
    }
    // Every table entry names a real cell class (a typo would make the loop above vacuous).
    const seen = new Set(cells.filter((c) => c.meshMode === 'sidecar' && c.protocol === 'http' && c.required.length > 1).map((c) => `${c.client} ${c.mode}`));
    expect([...seen].sort()).to.deep.equal(Object.keys(SIDECAR_HTTP_SETS).sort());
  });

  it('STRICT never admits plaintext, no certificate, a foreign CA, an expired certificate or another trust domain', function () {
    for (const c of cells.filter((x) => x.mode === 'STRICT' && BAD_IDENTITY.includes(x.client))) expect(c.required, name(c)).to.deep.equal(['deny']);
    for (const c of cells.filter((x) => x.meshMode === 'ambient' && x.client.startsWith('hbone-'))) expect(c.required, name(c)).to.deep.equal(['deny']);
  });

  it('a bad certificate is never admitted where the mesh terminates (sidecar PERMISSIVE and STRICT)', function () {
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode !== 'DISABLE' && ['mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain'].includes(x.client))) {
      expect(c.required, name(c)).to.deep.equal(['deny']);
    }
  });

  it('a valid mesh identity is admitted where mTLS is accepted', function () {
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode !== 'DISABLE' && x.client === 'mtls-http')) expect(c.required, name(c)).to.deep.equal(['allow']);
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode !== 'DISABLE' && x.protocol === 'tcp' && x.client === 'mtls-tcp'))
      expect(c.required, name(c)).to.deep.equal(['allow']);
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode === 'STRICT' && x.client === 'tls-no-istio-alpn')) expect(c.required, name(c)).to.deep.equal(['allow']);
    for (const c of cells.filter((x) => x.meshMode === 'ambient' && x.client === 'hbone')) expect(c.required, name(c)).to.deep.equal(['allow']);
  });

  it('DISABLE never terminates: no TLS client may be allowed on a sidecar DISABLE port', function () {
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode === 'DISABLE' && !x.client.startsWith('plaintext-')))
      expect(c.required, name(c)).to.not.include('allow');
  });

  it('PERMISSIVE and DISABLE accept plaintext on TCP ports, and plaintext HTTP on HTTP ports', function () {
    for (const c of cells.filter((x) => x.meshMode === 'sidecar' && x.mode !== 'STRICT' && x.client.startsWith('plaintext-'))) {
      if (x(c)) expect(c.required, name(c)).to.deep.equal(['allow']);
    }
    function x(c: Cell) {
      return c.protocol === 'tcp' || c.client === 'plaintext-http';
    }
  });

  it('the claim picks the accepted set: spec the required set, istio the reference outcome alone', function () {
    const exp = { outcome: 'deny' as const, required: ['deny', 'allow'] as const };
    expect(acceptedOutcomes(exp, 'spec')).to.deep.equal(['deny', 'allow']);
    expect(acceptedOutcomes(exp, 'istio')).to.deep.equal(['deny']);
  });

  it('PERMISSIVE HTTP-port rule text: the mTLS chain matches every Istio ALPN, so mtls-tcp is terminated, then refused by the HTTP codec', function () {
    const ref = outcomeFor('sidecar', 'PERMISSIVE', 'http', 'mtls-tcp')!;
    expect(ref.outcome).to.equal('deny');
    expect(ref.rule).to.match(/every Istio ALPN \(allIstioMtlsALPNs\)/);
    expect(ref.rule).to.match(/terminated/);
    expect(ref.rule).to.not.match(/not an HTTP mTLS ALPN/);
  });
});
