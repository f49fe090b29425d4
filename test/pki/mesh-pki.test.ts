import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { createMeshPki, PkiError, type MeshPki } from '../../src/pki/index.js';
import { createPrivateDir } from '../../src/util/private-dir.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const x509 = (pem: string) => new X509Certificate(pem);
const chainsTo = (leafPem: string, caPem: string) => {
  const leaf = x509(leafPem);
  const ca = x509(caPem);
  return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
};

/** Result of one mTLS connection to a real node:tls server that requires a mesh client certificate. */
async function connectToStrictServer(pki: MeshPki, client?: { certPem: string; keyPem: string }): Promise<'accepted' | 'rejected'> {
  const serverId = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'server', address: '127.0.0.1' });
  const server = tls.createServer({ cert: serverId.certPem, key: serverId.keyPem, ca: pki.meshCaPem, requestCert: true, rejectUnauthorized: true }, (sock) =>
    sock.end('accepted\n'),
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        ca: pki.meshCaPem,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        // SPIFFE certificates carry no DNS name; the chain check above is what matters here.
        checkServerIdentity: () => undefined,
      });
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('error', () => {});
      sock.on('close', () => resolve(data === 'accepted\n' ? 'accepted' : 'rejected'));
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('pki: createMeshPki', function () {
  let pki: MeshPki;
  before(function () {
    pki = createMeshPki({ trustDomain: 'cluster.local', now: () => NOW });
  });

  it('issues workload certificates with the SPIFFE URI SAN, an optional IP SAN and both EKUs', function () {
    const id = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance', address: '127.0.0.7' });
    expect(id.spiffeId).to.equal('spiffe://cluster.local/ns/foo/sa/finance');
    const cert = x509(id.certPem);
    expect(cert.subjectAltName).to.equal('URI:spiffe://cluster.local/ns/foo/sa/finance, IP Address:127.0.0.7');
    expect(cert.keyUsage).to.have.members(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.ca).to.equal(false);
    expect(cert.checkPrivateKey(createPrivateKey(id.keyPem))).to.equal(true);
    expect(id.caPem).to.equal(pki.meshCaPem);

    const noAddress = x509(pki.issueWorkload({ namespace: 'foo', serviceAccount: 'web' }).certPem);
    expect(noAddress.subjectAltName).to.equal('URI:spiffe://cluster.local/ns/foo/sa/web');
  });

  it('makes workload certificates valid from now-1h to now+24h on the injected clock', function () {
    const cert = x509(pki.issueWorkload({ namespace: 'foo', serviceAccount: 'a' }).certPem);
    expect(new Date(cert.validFrom).getTime()).to.equal(NOW.getTime() - HOUR);
    expect(new Date(cert.validTo).getTime()).to.equal(NOW.getTime() + DAY);
  });

  it('shares one key across workloads (scale choice) but gives each its own certificate', function () {
    const a = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'a' });
    const b = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'b' });
    expect(a.keyPem).to.equal(b.keyPem);
    expect(x509(a.certPem).serialNumber).to.not.equal(x509(b.certPem).serialNumber);
  });

  it('chains every mesh identity to the mesh CA, and only those', function () {
    const ca = x509(pki.meshCaPem);
    expect(ca.ca).to.equal(true);
    expect(ca.checkIssued(ca) && ca.verify(ca.publicKey)).to.equal(true);
    expect(chainsTo(pki.issueWorkload({ namespace: 'foo', serviceAccount: 'x' }).certPem, pki.meshCaPem)).to.equal(true);
    expect(chainsTo(pki.clients.mesh.certPem, pki.meshCaPem)).to.equal(true);
    expect(chainsTo(pki.clients.expired.certPem, pki.meshCaPem)).to.equal(true);
    expect(chainsTo(pki.clients.otherTrustDomain.certPem, pki.meshCaPem)).to.equal(true);

    expect(chainsTo(pki.clients.foreignCa.certPem, pki.meshCaPem)).to.equal(false);
    expect(x509(pki.clients.foreignCa.certPem).verify(x509(pki.meshCaPem).publicKey)).to.equal(false);
    expect(chainsTo(pki.clients.foreignCa.certPem, pki.foreignCaPem)).to.equal(true);
    expect(chainsTo(pki.appIdentity().certPem, pki.meshCaPem)).to.equal(false);
    expect(chainsTo(pki.appIdentity().certPem, pki.appCaPem)).to.equal(true);
  });

  it('gives the probe clients the expected SPIFFE IDs and validity', function () {
    const probeId = 'spiffe://cluster.local/ns/meshconform-probe/sa/probe-client';
    expect(x509(pki.clients.mesh.certPem).subjectAltName).to.equal(`URI:${probeId}`);
    expect(x509(pki.clients.foreignCa.certPem).subjectAltName).to.equal(`URI:${probeId}`);
    expect(x509(pki.clients.expired.certPem).subjectAltName).to.equal(`URI:${probeId}`);
    expect(x509(pki.clients.otherTrustDomain.certPem).subjectAltName).to.equal('URI:spiffe://other-trust-domain.example/ns/meshconform-probe/sa/probe-client');
    const expired = x509(pki.clients.expired.certPem);
    expect(new Date(expired.validFrom).getTime()).to.equal(NOW.getTime() - 2 * DAY);
    expect(new Date(expired.validTo).getTime()).to.equal(NOW.getTime() - DAY);
    const mesh = x509(pki.clients.mesh.certPem);
    expect(new Date(mesh.validTo).getTime()).to.equal(NOW.getTime() + DAY);
  });

  it('issues the echo application a non-SPIFFE certificate from its own CA', function () {
    const app = pki.appIdentity();
    const cert = x509(app.certPem);
    expect(cert.subject).to.include('CN=meshconform-echo-app');
    expect(cert.subjectAltName ?? '').to.not.include('URI:');
    expect(cert.checkPrivateKey(createPrivateKey(app.keyPem))).to.equal(true);
    expect(app.caPem).to.equal(pki.appCaPem);
    expect(pki.probeMaterial()).to.deep.equal({ meshCaPem: pki.meshCaPem, appCaPem: pki.appCaPem, clients: pki.clients });
  });

  it('rejects bad identities with a PkiError', function () {
    expect(() => createMeshPki({ trustDomain: 'Bad Domain' })).to.throw(PkiError, /invalid trust domain/);
    expect(() => pki.issueWorkload({ namespace: 'foo/bar', serviceAccount: 'x' })).to.throw(PkiError, /invalid namespace/);
    expect(() => pki.issueWorkload({ namespace: 'foo', serviceAccount: '..' })).to.throw(PkiError, /invalid service account/);
    expect(() => pki.issueWorkload({ namespace: 'foo', serviceAccount: 'x', address: 'not-an-ip' })).to.throw(PkiError, /not an IP/);
  });

  it('writes the CA for a plug-in-CA mesh as 0600 key files in a 0700 folder', async function () {
    const dir = await createPrivateDir('meshconform-pki-test-');
    try {
      const files = await pki.writeCaFiles(dir);
      expect((await stat(dir.path)).mode & 0o777).to.equal(0o700);
      expect((await stat(files.caKeyFile)).mode & 0o777).to.equal(0o600);
      const key = createPrivateKey(await readFile(files.caKeyFile, 'utf8'));
      expect(x509(pki.meshCaPem).checkPrivateKey(key)).to.equal(true);
    } finally {
      await dir.remove();
    }
    expect(
      await stat(dir.path).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });

  describe('against a real node:tls server (requestCert, rejectUnauthorized, mesh CA)', function () {
    let live: MeshPki;
    before(function () {
      live = createMeshPki({ trustDomain: 'cluster.local' }); // real clock: the server checks validity against now
    });
    it('accepts the mesh client', async function () {
      expect(await connectToStrictServer(live, live.clients.mesh)).to.equal('accepted');
    });
    it('rejects the foreign-CA client', async function () {
      expect(await connectToStrictServer(live, live.clients.foreignCa)).to.equal('rejected');
    });
    it('rejects the expired client', async function () {
      expect(await connectToStrictServer(live, live.clients.expired)).to.equal('rejected');
    });
    it('rejects a client without a certificate', async function () {
      expect(await connectToStrictServer(live)).to.equal('rejected');
    });
    it('lets the other-trust-domain client through the chain check (rejecting it is the data plane SAN check)', async function () {
      expect(await connectToStrictServer(live, live.clients.otherTrustDomain)).to.equal('accepted');
    });
  });
});
