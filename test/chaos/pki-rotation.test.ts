import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { createMeshPki, prepareKeyPairs } from '../../src/pki/index.js';

describe('PKI for chaos: short-lived certificates and the next root of a CA rotation', function () {
  this.timeout(60_000);
  before(() => prepareKeyPairs(6));
  const t = Date.parse('2026-11-27T12:00:00Z');
  const pki = () => createMeshPki({ trustDomain: 'cluster.local', now: () => new Date(t) });

  it('issues a workload certificate with the validity asked for (whole seconds)', () => {
    const p = pki();
    const id = p.issueWorkload({ namespace: 'foo', serviceAccount: 'a' }, { notAfter: t + 1500 });
    const c = new X509Certificate(id.certPem);
    expect(Date.parse(c.validTo)).to.be.within(t + 1000, t + 1500);
    expect(Date.parse(c.validFrom)).to.equal(t - 3_600_000);
    expect(() => p.issueWorkload({ namespace: 'foo', serviceAccount: 'a' }, { notBefore: t, notAfter: t - 1 })).to.throw(/notAfter must be after notBefore/);
  });

  it('the next root is another CA; what it issues verifies against it and not against the mesh root, and the same root comes back', () => {
    const p = pki();
    const next = p.nextRoot();
    expect(p.nextRoot()).to.equal(next);
    const root = new X509Certificate(p.meshCaPem);
    const nextRoot = new X509Certificate(next.caPem);
    expect(nextRoot.fingerprint256).to.not.equal(root.fingerprint256);
    const w = new X509Certificate(next.issueWorkload({ namespace: 'foo', serviceAccount: 'a' }).certPem);
    expect(w.checkIssued(nextRoot) && w.verify(nextRoot.publicKey)).to.equal(true);
    expect(w.verify(root.publicKey)).to.equal(false);
    expect(w.subjectAltName).to.include('URI:spiffe://cluster.local/ns/foo/sa/a');
    const client = new X509Certificate(next.meshClient.certPem);
    expect(client.verify(nextRoot.publicKey)).to.equal(true);
    expect(next.meshClient.spiffeId).to.equal(p.clients.mesh.spiffeId);
  });
});
