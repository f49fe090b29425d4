// Client-chain verification with the proxy's own clock (used under MESHCONFORM_CLOCK_OFFSET_MS), the clock-offset
// and defect-parameter parsers, and the chaos half of the defect catalogue.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { CHAOS_DEFECTS, DEFECTS, STATIC_DEFECTS, parseDefectSpec, parseDefects, parseFailOpenAt } from '../../harness/reference/defects.mjs';
import { parseClockOffset, verifyClientChain } from '../../harness/reference/peer-verify.mjs';
import { issueLeaf, newIntermediate, newRoot, spiffe, type Root } from './support/rotation-pki.js';

const HOUR = 3600_000;
const x509 = (r: { certPem: string }) => new X509Certificate(r.certPem);

describe('harness: client-chain verification with the proxy clock', function () {
  let rootA: Root;
  let rootB: Root;
  let intermediate: Root;
  const uri = spiffe('foo', 'sleep');
  const now = Date.now();

  before(function () {
    rootA = newRoot('verify root A');
    rootB = newRoot('verify root B');
    intermediate = newIntermediate(rootA, 'verify intermediate');
  });

  it('trusts a leaf of a root in the bundle, whichever place the root has in it', function () {
    const leaf = x509(issueLeaf({ issuer: rootA, uri }));
    expect(verifyClientChain(leaf, [], [x509(rootA)], now)).to.equal(null);
    expect(verifyClientChain(leaf, [], [x509(rootB), x509(rootA)], now)).to.equal(null);
    expect(verifyClientChain(leaf, [], [x509(rootB)], now)).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('checks every validity period of the path against the given time', function () {
    const leaf = x509(issueLeaf({ issuer: rootA, uri, notBefore: new Date(now - HOUR), notAfter: new Date(now + HOUR) }));
    const roots = [x509(rootA)];
    expect(verifyClientChain(leaf, [], roots, now)).to.equal(null);
    expect(verifyClientChain(leaf, [], roots, now + 2 * HOUR)).to.equal('CERT_HAS_EXPIRED');
    expect(verifyClientChain(leaf, [], roots, now - 2 * HOUR)).to.equal('CERT_NOT_YET_VALID');
    // the root is valid from 30 days ago: 31 days back it is the root that is not yet valid
    const old = x509(issueLeaf({ issuer: rootA, uri, notBefore: new Date(now - 40 * 24 * HOUR), notAfter: new Date(now + HOUR) }));
    expect(verifyClientChain(old, [], roots, now - 31 * 24 * HOUR)).to.equal('CERT_NOT_YET_VALID');
  });

  it('follows intermediates the client presents, never trusting them as anchors', function () {
    const leaf = x509(issueLeaf({ issuer: intermediate, uri }));
    expect(verifyClientChain(leaf, [x509(intermediate)], [x509(rootA)], now)).to.equal(null);
    expect(verifyClientChain(leaf, [], [x509(rootA)], now)).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(verifyClientChain(leaf, [x509(intermediate)], [x509(rootB)], now)).to.equal('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });

  it('refuses a leaf as issuer, a self-signed leaf, a forged signature and a leaf without clientAuth', function () {
    const notCa = issueLeaf({ issuer: rootA, uri: spiffe('foo', 'x') });
    const underLeaf = x509(issueLeaf({ issuer: { certPem: notCa.certPem, keyPem: notCa.keyPem }, uri }));
    // a certificate without keyCertSign is no issuer at all (OpenSSL's X509_check_issued)
    expect(verifyClientChain(underLeaf, [x509(notCa)], [x509(rootA)], now)).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(verifyClientChain(x509(rootB), [], [x509(rootA)], now)).to.equal('DEPTH_ZERO_SELF_SIGNED_CERT');
    // same name as root A, another key: the name matches, the signature does not
    const impostor = newRoot('verify root A');
    expect(verifyClientChain(x509(issueLeaf({ issuer: impostor, uri })), [], [x509(rootA)], now)).to.equal('CERT_SIGNATURE_FAILURE');
    expect(verifyClientChain(x509(issueLeaf({ issuer: rootA, uri, eku: ['serverAuth'] })), [], [x509(rootA)], now)).to.equal('INVALID_PURPOSE');
  });
});

describe('harness: clock offset and defect parameters', function () {
  it('reads MESHCONFORM_CLOCK_OFFSET_MS as a signed integer, 0 when unset', function () {
    expect(parseClockOffset(undefined)).to.equal(0);
    expect(parseClockOffset('')).to.equal(0);
    expect(parseClockOffset('-7200000')).to.equal(-7200000);
    expect(parseClockOffset('+5')).to.equal(5);
    for (const bad of ['x', '1.0', '0x10', '1e3', '9007199254740993']) expect(() => parseClockOffset(bad), bad).to.throw(/MESHCONFORM_CLOCK_OFFSET_MS must be an integer/);
  });

  it('gives parameterised defects their value or the catalogue default; the name set stays plain', function () {
    const spec = parseDefectSpec('fail-open-window=100, fail-open-on-restart, accept-expired-during-rotation,newest-wins');
    expect([...spec.defects]).to.deep.equal(['fail-open-window', 'fail-open-on-restart', 'accept-expired-during-rotation', 'newest-wins']);
    expect(Object.fromEntries(spec.parameters)).to.deep.equal({ 'fail-open-window': 100, 'fail-open-on-restart': 1500, 'accept-expired-during-rotation': null });
    expect([...parseDefects('fail-open-window=5')]).to.deep.equal(['fail-open-window']);
    expect(() => parseDefectSpec('fail-open-window=1.5')).to.throw(/an integer from 1 to 86400000/);
    expect(() => parseDefectSpec('fail-open-window=86400001')).to.throw(/an integer from 1 to 86400000/);
    expect(() => parseDefectSpec('newest-wins=1')).to.throw(/takes no parameter/);
    expect(() => parseDefectSpec('fail-open=1')).to.throw(/unknown defect 'fail-open'/);
    expect(parseFailOpenAt(undefined)).to.equal(undefined);
    expect(parseFailOpenAt('1700000000000')).to.equal(1700000000000);
    expect(() => parseFailOpenAt('-1')).to.throw(/epoch milliseconds/);
  });

  it('marks every defect static or chaos; the chaos ones are those issue 5 names plus the bench window', function () {
    expect(DEFECTS.every((d) => d.kind === 'static' || d.kind === 'chaos')).to.equal(true);
    expect([...CHAOS_DEFECTS].sort()).to.deep.equal(['accept-expired-during-rotation', 'fail-open-on-restart', 'fail-open-window', 'stale-policy-after-reload']);
    expect(STATIC_DEFECTS.length + CHAOS_DEFECTS.length).to.equal(DEFECTS.length);
    for (const d of DEFECTS) if (d.parameter) expect(d.parameter.unit).to.equal('ms');
  });
});
